"""The small commands: actions, config, cache, warm."""

from __future__ import annotations

import json

from .cli_common import ExitCode, command_parser, guarded, settings_from, warn, write
from .config import Overrides, config_path
from .hosts import OLLAMA


@guarded
def actions_command(argv: list[str]) -> int:
    args = command_parser("actions", "List the actions, one line each.").parse_args(argv)
    actions = settings_from(args).actions
    width = max(len(name) for name in actions)
    for name, action in sorted(actions.items()):
        write(f"{name:<{width}}  {action.summary}\n")
    return ExitCode.OK


@guarded
def config_command(argv: list[str]) -> int:
    parser = command_parser("config", "Show the effective settings and where each came from.")
    parser.add_argument("--init", action="store_true", help="write a commented starter config file")
    parser.add_argument(
        "--force", action="store_true", help="with --init: replace an existing file"
    )
    args = parser.parse_args(argv)
    from . import configdoc

    path, _ = config_path(Overrides(config=args.config))
    if args.init:
        write(f"wrote {configdoc.write_starter(path, force=args.force)}\n")
    else:
        write(configdoc.render(settings_from(args), looked_at=path))
    return ExitCode.OK


@guarded
def cache_command(argv: list[str]) -> int:
    parser = command_parser("cache", "Show or clear the cache of earlier rewrites.")
    parser.add_argument(
        "what", choices=("stats", "clear"), help="stats: what is cached; clear: forget it"
    )
    parser.add_argument("--json", action="store_true", help="stats as one JSON object")
    args = parser.parse_args(argv)
    from . import paths
    from .cache import Cache

    settings = settings_from(args)
    cache = Cache(paths.cache_dir(), max_entries=settings.cache.max_entries, warn=warn)
    if args.what == "clear":
        write(f"cleared {cache.clear()} cached rewrites from {cache.path}\n")
        return ExitCode.OK
    stats = cache.stats()
    if args.json:
        write(json.dumps(stats.as_dict()) + "\n")
        return ExitCode.OK
    write(
        f"{stats.path}: {stats.entries} of at most {stats.max_entries} rewrites, "
        f"{stats.size_bytes / 1e6:.1f} MB\n"
    )
    for model, count in sorted(stats.models.items()):
        write(f"  {model}: {count}\n")
    return ExitCode.OK


@guarded
def warm_command(argv: list[str]) -> int:
    parser = command_parser(
        "warm",
        "Load the model now, with the options rewrites use, so the next rewrite pays no load.",
    )
    args = parser.parse_args(argv)
    from .engine import Engine
    from .warm import warm_hosts, warm_up

    settings = settings_from(args)
    engine = Engine(settings, warn=warn)
    if len(settings.hosts) == 1:
        ready = [warm_up(engine, args.model)]
    else:  # every host that serves the model, at once
        ready, failed = warm_hosts(engine, args.model)
        for host, error in failed:
            warn(f"not warmed on {host}: {error}")
        if not ready:
            raise engine.router.telling(
                args.model or settings.model_for(settings.default_action), [e for _, e in failed]
            )
    for result in ready:
        kept = (
            f"kept loaded for {settings.keep_alive} after each request"
            if result.api == OLLAMA
            else "the server keeps it loaded"
        )
        took = f"{result.wall_ms / 1000:.2f} s"
        write(f"{result.model} is ready on {result.host} after {took} ({kept})\n")
    return ExitCode.OK
