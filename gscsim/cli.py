"""The `gscsim` command: run, validate, list, plot, grid, data, ber, score, scenes, train."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gscsim import registry
from gscsim.conventions import parse_ratio
from gscsim.io import ScenarioError
from gscsim.run.scenario import expand, load


def _cmd_run(args: argparse.Namespace) -> int:
    from gscsim.run.runner import run_scenario

    root = run_scenario(args.scenario, output=args.output, executor=args.executor,
                        workers=args.workers, scheduler=args.scheduler, plots=not args.no_plots,
                        progress=not args.quiet, threads=args.threads)
    print(f"results in {root}: summary.csv, frames.csv, manifest.json"
          + ("" if args.no_plots else ", plots/"))
    return 0


def _cmd_grid(args: argparse.Namespace) -> int:
    from gscsim.run.grid import grid

    points = []
    for text in args.point or []:
        snr, _, cbr = text.partition(":")
        try:
            points.append((float(snr), parse_ratio(cbr)))
        except ValueError:
            raise ValueError(f"--point {text}: write SNR:CBR, e.g. 10:0.006 or -13:1/48") from None
    print(grid(args.output, points or None, args.out))
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    from gscsim.data.datasets import kodak5_dir

    fetchers = {"kodak5": lambda: [kodak5_dir(False, fetch=True), kodak5_dir(True, fetch=True)]}
    for name in args.names:
        if name not in fetchers:
            raise ValueError(f"gscsim data {name}: no such data to fetch; choose from "
                             f"{', '.join(sorted(fetchers))}")
        for folder in fetchers[name]():
            print(f"{name}: {folder}")
    return 0


def _cmd_ber(args: argparse.Namespace) -> int:
    from gscsim.phy.ber import run_ber

    root = run_ber(args.scenario, output=args.output, progress=not args.quiet)
    print(f"results in {root}: ber.csv, plots/")
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    from gscsim.metrics.score import score

    for name, value in score(args.metric, args.reference, args.distorted):
        print(f"{name}\t{value:.6g}")
    return 0


def _cmd_scenes_write(args: argparse.Namespace) -> int:
    from gscsim.data.scenes.shards import write_shard

    path = write_shard(args.out, args.split, args.count, args.size, args.start,
                       progress=not args.quiet)
    print(f"wrote {args.count} {args.split} scenes ({args.size}x{args.size}) to {path}")
    return 0


# Trainable models: name -> "module:function" taking (config, out, steps, data, restart, progress).
TRAINERS = {"swinjscc": "gscsim.baselines.swinjscc.train:train",
            "sgd-jscc": "gscsim.baselines.sgd_jscc.train:train",
            "brigsc": "gscsim.baselines.brigsc.train:train",
            "vqvae": "gscsim.scvar.train_vqvae:train",
            "scvar": "gscsim.scvar.train:train",
            "targsc": "gscsim.targsc.train:train"}


def _cmd_train(args: argparse.Namespace) -> int:
    import importlib

    module, function = TRAINERS[args.model].split(":")
    final = getattr(importlib.import_module(module), function)(
        args.config, args.out or f"runs/{args.model}-{Path(args.config).stem}", steps=args.steps,
        data=args.data, restart=args.restart, progress=not args.quiet)
    print(f"model in {final} (card {final.with_suffix('.md')}); log.csv and loss.png beside it")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from gscsim.run.trial import dry_run

    for path in args.scenario:
        scenario = load(path)
        checked = "" if args.schema_only else (
            f"; one frame through each of {dry_run(scenario, path, Path(path).parent)} "
            f"transceiver x channel pairs")
        print(f"{path}: ok ({len(expand(scenario))} trials{checked})")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    if args.name:
        from gscsim.reference import options_text

        print(options_text(args.name))
        return 0
    for kind in registry.KINDS:
        print(f"{kind}:")
        for name, target in sorted(registry.available(kind).items()):
            try:
                summary = registry.resolve(kind, name).summary()
            except Exception as err:  # a broken third-party plugin must not hide the others
                summary = f"(cannot load {target}: {err})"
            print(f"  {name:16s} {summary}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from gscsim.run.report import write_report

    print(write_report(args.output, args.out))
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from gscsim.run.plots import plot, plot_cdf

    if args.cdf:
        paths = plot_cdf(args.output, args.cdf, hue=args.hue)
    else:
        paths = plot(args.output, x=args.x, y=args.y, hue=args.hue)
    for path in paths:
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gscsim", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a scenario (resumes an interrupted run)")
    run.add_argument("scenario")
    run.add_argument("--output", help="output folder (default: the scenario's `output`)")
    run.add_argument("--executor", default="local", choices=["local", "process", "dask"])
    run.add_argument("--workers", type=int, default=1, help="parallel worker processes")
    run.add_argument("--scheduler", help="address of an existing dask scheduler (implies dask)")
    run.add_argument("--threads", type=int, metavar="T",
                     help="torch threads per trial (default: 1 locally; cores / workers with "
                          "--workers or a local dask cluster; 1 on an existing cluster)")
    run.add_argument("--no-plots", action="store_true")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=_cmd_run)

    gridder = sub.add_parser("grid", help="lay out the pictures a scenario kept (keep_frames)")
    gridder.add_argument("output", nargs="+", help="one results folder, or several whose "
                         "points share the grid (their kept frames in common are the rows)")
    gridder.add_argument("--point", action="append", metavar="SNR:CBR",
                         help="a column group, e.g. 10:0.006 (repeat; default: every point)")
    gridder.add_argument("--out", help="image file (default: the first OUTPUT's "
                         "plots/grid.png)")
    gridder.set_defaults(func=_cmd_grid)

    data = sub.add_parser("data", help="fetch data a dataset needs into the cache, once")
    data.add_argument("names", nargs="+", help="e.g. kodak5")
    data.set_defaults(func=_cmd_data)

    ber = sub.add_parser("ber", help="BER/BLER curves of digital chains alone")
    ber.add_argument("scenario")
    ber.add_argument("--output")
    ber.add_argument("--quiet", action="store_true")
    ber.set_defaults(func=_cmd_ber)

    scorer = sub.add_parser("score", help="score an image pair, or two folders by file name")
    scorer.add_argument("--metric", required=True, help="e.g. psnr, ssim, lpips, fid")
    scorer.add_argument("reference")
    scorer.add_argument("distorted")
    scorer.set_defaults(func=_cmd_score)

    scenes = sub.add_parser("scenes", help="the procedural scene set")
    scenes_sub = scenes.add_subparsers(dest="scenes_command", required=True)
    writer = scenes_sub.add_parser("write", help="render a split to an .npz shard")
    writer.add_argument("out")
    writer.add_argument("--split", default="train", choices=["train", "val", "test"])
    writer.add_argument("--count", type=int, default=1000)
    writer.add_argument("--size", type=int, default=64)
    writer.add_argument("--start", type=int, default=0, help="first scene index")
    writer.add_argument("--quiet", action="store_true")
    writer.set_defaults(func=_cmd_scenes_write)

    trainer = sub.add_parser("train", help="train a learned transceiver (resumes a stopped run)")
    trainer.add_argument("model", choices=sorted(TRAINERS))
    trainer.add_argument("--config", required=True,
                         help="YAML file, or the name of a shipped config (e.g. tiny-photos)")
    trainer.add_argument("--out", help="run folder (default runs/MODEL-CONFIG)")
    trainer.add_argument("--steps", type=int, help="override train.steps")
    trainer.add_argument("--data", help="image folder to train on (overrides train.data)")
    trainer.add_argument("--restart", action="store_true", help="discard a run already in --out")
    trainer.add_argument("--quiet", action="store_true", help="no progress bar")
    trainer.set_defaults(func=_cmd_train)

    validate = sub.add_parser("validate", help="check scenario files (and send one frame "
                                                "through every transceiver and channel)")
    validate.add_argument("scenario", nargs="+")
    validate.add_argument("--schema-only", action="store_true",
                          help="check the file's fields and plugin names only (no frame sent)")
    validate.set_defaults(func=_cmd_validate)

    lister = sub.add_parser("list", help="installed transceivers, channels, datasets, metrics"
                                         "; with a NAME, that plugin's options")
    lister.add_argument("name", nargs="?", help="a plugin: show its options, types, defaults")
    lister.set_defaults(func=_cmd_list)

    reporter = sub.add_parser("report", help="one self-contained HTML page of a results "
                                             "folder: tables, plots, pictures, warnings")
    reporter.add_argument("output", help="a results folder (what `gscsim run` wrote)")
    reporter.add_argument("--out", help="the HTML file (default: OUTPUT/report.html)")
    reporter.set_defaults(func=_cmd_report)

    plotter = sub.add_parser("plot", help="draw curves from an output folder's summary.csv")
    plotter.add_argument("output")
    plotter.add_argument("--x", default="snr_db")
    plotter.add_argument("--y", default="psnr")
    plotter.add_argument("--hue", default="transceiver", help="one line per value of this key")
    plotter.add_argument("--cdf", metavar="COLUMN",
                         help="draw the CDF of a frames.csv column instead (e.g. latency_s)")
    plotter.set_defaults(func=_cmd_plot)
    return parser


def _attach_negative_points(argv: list[str]) -> list[str]:
    """`--point -13:0.006` as `--point=-13:0.006`: argparse takes a value that starts with '-'
    and is not a plain number for an option and refuses it."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] == "--point" and arg.startswith("-"):
            out[-1] = f"--point={arg}"
        else:
            out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")        # files only: no window, no display needed
    args = build_parser().parse_args(_attach_negative_points(
        sys.argv[1:] if argv is None else list(argv)))
    if getattr(args, "scheduler", None):
        args.executor = "dask"
    try:
        return args.func(args)
    except ScenarioError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, FileExistsError, registry.PluginError,
            RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:             # unwritable output, full disk, ...
        print(f"error: {err.strerror or err} ({err.filename or 'a file'}); nothing finished "
              f"is lost: rerun to resume", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:
        print(str(err) if str(err).startswith("interrupted") else
              "interrupted: every finished trial is saved; rerun the same command to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
