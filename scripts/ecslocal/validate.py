"""Input validation driven by Debian's botocore service models.

Checks JSON types, required members and enum values of an operation's input
shape.  Unknown members are ignored (AWS JSON services do the same), and a few
members that only the agent's private ECS model has (§1.4 ``clientToken``,
§1.7 ``zoneId``, §1.8 port ranges, §12) are added to the public model so they
are type-checked too.  ``null`` is treated as "absent".

Outcome, as AWS JSON services answer:
* wrong JSON type            -> SerializationException
* missing required / enum    -> the service's parameter error
  (ECS, ECR: InvalidParameterException; SSM, Secrets Manager: ValidationException
  with the Coral "1 validation error detected" text)
"""

import copy

import botocore.loaders

from .errors import AwsError

# Members of the agent's private ECS model missing from botocore 1.29 (§12).
PRIVATE_ECS_MEMBERS = {
    "RegisterContainerInstanceRequest": {"clientToken": "String"},
    "DiscoverPollEndpointRequest": {"zoneId": "String"},
    "NetworkBinding": {"containerPortRange": "String", "hostPortRange": "String"},
    "DiscoverPollEndpointResponse": {"systemLogsEndpoint": "String"},
}

_loader = None


def loader():
    global _loader
    if _loader is None:
        _loader = botocore.loaders.Loader()
    return _loader


class ServiceModel:
    def __init__(self, service, param_error, coral_messages=False):
        model = loader().load_service_model(service, "service-2")
        self.metadata = model["metadata"]
        self.operations = model["operations"]
        self.shapes = copy.deepcopy(model["shapes"]) if service == "ecs" else model["shapes"]
        self.param_error = param_error
        self.coral = coral_messages
        if service == "ecs":
            for shape, members in PRIVATE_ECS_MEMBERS.items():
                for name, target in members.items():
                    self.shapes[shape]["members"].setdefault(name, {"shape": target})

    def has(self, op):
        return op in self.operations

    def validate(self, op, params):
        if not isinstance(params, dict):
            raise AwsError("SerializationException",
                           "Start of structure or map found where not expected."
                           if isinstance(params, list) else
                           "Expected a JSON object as the request body.")
        shape = self.operations[op]["input"]["shape"]
        self._check(shape, params, "")

    # -- internals -----------------------------------------------------------
    def _type_error(self, path, expected, value):
        got = type(value).__name__
        got = {"str": "string", "int": "integer", "float": "number", "bool": "boolean",
               "dict": "object", "list": "array", "NoneType": "null"}.get(got, got)
        raise AwsError("SerializationException",
                       f"Unexpected value type for '{path or 'input'}': expected {expected}, got {got}")

    def _missing(self, path):
        if self.coral:
            raise AwsError(self.param_error, "1 validation error detected: Value null at "
                           f"'{path}' failed to satisfy constraint: Member must not be null")
        raise AwsError(self.param_error, f"{path} can not be null or empty.")

    def _check(self, shape_name, value, path):
        shape = self.shapes[shape_name]
        t = shape["type"]
        if t == "structure":
            if not isinstance(value, dict):
                self._type_error(path, "object", value)
            for req in shape.get("required", []):
                if value.get(req) is None:
                    self._missing(f"{path}.{req}" if path else req)
            for name, member in shape["members"].items():
                v = value.get(name)
                if v is not None:
                    self._check(member["shape"], v, f"{path}.{name}" if path else name)
        elif t == "list":
            if not isinstance(value, list):
                self._type_error(path, "array", value)
            for i, item in enumerate(value):
                if item is None:
                    self._missing(f"{path}[{i}]")
                self._check(shape["member"]["shape"], item, f"{path}[{i}]")
        elif t == "map":
            if not isinstance(value, dict):
                self._type_error(path, "object", value)
            for k, v in value.items():
                if v is not None:
                    self._check(shape["value"]["shape"], v, f"{path}.{k}")
        elif t == "string":
            if not isinstance(value, str):
                self._type_error(path, "string", value)
            enum = shape.get("enum")
            if enum and value not in enum:
                if self.coral:
                    raise AwsError(self.param_error,
                                   f"1 validation error detected: Value '{value}' at '{path}' failed "
                                   "to satisfy constraint: Member must satisfy enum value set: "
                                   f"[{', '.join(enum)}]")
                raise AwsError(self.param_error,
                               f"Invalid value '{value}' for {path}. Valid values: {', '.join(enum)}")
        elif t in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                # JSON numbers like 3.0 are accepted as integers by AWS parsers
                if not (isinstance(value, float) and value.is_integer()):
                    self._type_error(path, "integer", value)
        elif t in ("double", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self._type_error(path, "number", value)
        elif t == "boolean":
            if not isinstance(value, bool):
                self._type_error(path, "boolean", value)
        elif t == "timestamp":
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                self._type_error(path, "timestamp", value)
        elif t == "blob":
            if not isinstance(value, str):
                self._type_error(path, "base64 string", value)
