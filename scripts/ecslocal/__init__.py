"""ecs-local: a local Amazon ECS control plane (ECS API, ACS, TCS) for the
quickstart and the integration tests.  See README.md in this directory."""

__version__ = "0.1.0"


def main(argv=None):
    from .server import main as _main
    return _main(argv)
