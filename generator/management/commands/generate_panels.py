"""Generate AM panels for units of a network layer, and register them in an experiment.

    python manage.py generate_panels --network alexnet --layer fc6 --units 0-4095 \
        [--images 100] [--grid 10x10] [--iterations N] [--batch B] [--device cuda|cpu] \
        [--bf16 --channels-last --compile] [--spatial centre|max] [--post-relu] \
        [--crop input|receptive-field] \
        [--weights F] [--generator-weights F] [--encoder NET] [--encoder-weights F] \
        [--reset-every N] [--threshold P] [--experiment SLUG]

Resumes (finished units are skipped). Under `torchrun --nproc-per-node N manage.py
generate_panels ...` each rank takes every N-th unit and its own GPU (LOCAL_RANK); rank 0
registers the panels once all ranks' units are in the output folder.
"""

import time
from pathlib import Path

import torch
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from experiment.files import file_in_the_way, os_error_message
from experiment.management.commands._experiment_arg import experiment_get
from experiment.selectors import lists_outdated_message
from generator import services
from generator.am import (
    distributed,
    grid,
    loading,
    networks,
    outputs,
    pipeline,
    receptive,
    reference,
)
from generator.am.config import AMConfig, usable_cpus


class Command(BaseCommand):
    help = "Generate activation-maximization panels (PPGN) for units of a network layer."

    def add_arguments(self, parser):
        parser.add_argument("--network", required=True, help="registered network, e.g. alexnet")
        parser.add_argument("--layer", required=True, help="layer alias, e.g. fc6, conv5, fc8")
        parser.add_argument("--units", required=True, help="units, e.g. 0-4095 or 1,5,9-12")
        parser.add_argument("--images", type=int, default=100, help="AM images per unit")
        parser.add_argument("--grid", default="10x10", help="panel layout ROWSxCOLS")
        parser.add_argument(
            "--iterations", type=int, help="steps per image (default: 200 ppgn, 512 pixel)"
        )
        parser.add_argument("--batch", type=int, default=64, help="chains run together")
        parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda if any)")
        parser.add_argument(
            "--bf16",
            action="store_true",
            help="bfloat16 autocast (for CUDA; slow on most CPUs; PPGN method only)",
        )
        parser.add_argument(
            "--channels-last",
            action="store_true",
            help="channels_last memory layout (faster on a GPU, and for the demo on a CPU; "
            "PPGN method only)",
        )
        parser.add_argument(
            "--compile",
            action="store_true",
            help="torch.compile the generator (GPU; ~1 min once; PPGN method only)",
        )
        parser.add_argument("--seed", type=int, default=0, help="base seed of the images")
        parser.add_argument(
            "--spatial", default="centre", help="conv unit: centre of the map (ppgn) or max"
        )
        parser.add_argument(
            "--post-relu", action="store_true", help="target the value after ReLU (default: pre)"
        )
        parser.add_argument(
            "--crop",
            default="input",
            help="pictures: the whole input the network saw (input), or only the receptive "
            "field of a conv unit at the map's centre (receptive-field), as ppgn's hidden-unit "
            "script crops conv5",
        )
        parser.add_argument("--reset-every", type=int, default=0, help="re-draw h every N steps")
        parser.add_argument(
            "--threshold", type=float, default=-1.0, help="keep the last code with p above this"
        )
        parser.add_argument(
            "--eps1", type=float, help="weight of the prior term E(G(h)) - h (default: 1e-5)"
        )
        parser.add_argument("--eps2", type=float, help="weight of the condition term (default: 1)")
        parser.add_argument(
            "--eps3", type=float, help="standard deviation of the noise (default: 1e-17)"
        )
        parser.add_argument("--lr", type=float, help="PPGN step size (default: 1)")
        parser.add_argument(
            "--lr-end",
            type=float,
            help="step size the steps move towards, linearly from --lr (ppgn's schedule)",
        )
        parser.add_argument(
            "--pixel-lr", type=float, help="Adam learning rate of the pixel method (default: 0.05)"
        )
        parser.add_argument("--method", default="ppgn", help="ppgn (generator prior) or pixel")
        parser.add_argument("--cpu-threads", type=int, default=0, help="0: torch's default")
        parser.add_argument("--weights", type=Path, help="target network weights file")
        parser.add_argument("--generator", help="registered generator (default: the network's)")
        parser.add_argument("--generator-weights", type=Path)
        parser.add_argument(
            "--encoder",
            help="network whose code the generator takes, for the prior (default: the target "
            "when the generator takes its code, else alexnet for deepsim-fc6)",
        )
        parser.add_argument(
            "--encoder-weights",
            type=Path,
            help="weights of the encoder; given for the target network itself, they make a "
            "separate encoder (default: the target's weights when the encoder is the target, "
            "else the encoder's standard file)",
        )
        parser.add_argument("--reference", type=Path, help="folder of natural images (quality)")
        parser.add_argument(
            "--out", type=Path, help="default: $DJANGO_VAR_DIR/am/<network>/<layer>"
        )
        parser.add_argument("--experiment", help="slug of an existing experiment to register in")

    def handle(self, *args, **options):
        run = self._panel_run(options)
        rank, world_size, _ = self._rank()
        experiment = None
        if options["experiment"]:
            experiment = self._experiment(options["experiment"])
            self._registration_check(experiment, run)
            if world_size > 1:  # rank 0 registers once all are done: they must reach it
                distributed.ranks_connect()
        mine = distributed.shard_units(run.units, rank, world_size)
        reports = self._generate(run, mine, rank, world_size)
        self.stdout.write(outputs.quality_summary(reports))
        if experiment is not None:
            self._register(experiment, run, rank, world_size)

    def _panel_run(self, options) -> pipeline.PanelRun:
        try:
            spec = networks.get_network(options["network"])
            layer = spec.layer(options["layer"])
            units = networks.parse_units(options["units"])
            networks.check_units(layer, units)
            rows, cols = grid.parse_grid(options["grid"])
            if options["reference"] is not None:  # fail before any work, on a bad file too
                reference.images_check(reference.reference_files(options["reference"]))
            config = AMConfig(**self._config_values(options, layer))
            networks.target_options_check(
                spec, layer, spatial=config.spatial, pre_relu=config.pre_relu
            )
            _cpu_threads_check(config.cpu_threads)
            box = receptive.picture_box(config)
            if config.method == "ppgn":
                loading.encoder_of(config)  # fail before any work on an encoder G cannot use
            if box is not None:
                self._say_box(box, spec, layer)
            return pipeline.PanelRun(
                config=config,
                units=units,
                out=self._out(options),
                rows=rows,
                cols=cols,
                reference=options["reference"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from None

    def _say_box(self, box, spec, layer) -> None:
        size = spec.input_size
        if box.covers(size):
            message = (
                f"The receptive field of a {layer.alias} unit covers the whole {size}x{size} "
                "input: the pictures are not cropped."
            )
            self.stdout.write(self.style.WARNING(message))
            return
        self.stdout.write(
            f"Pictures: the {box.height}x{box.width} receptive field of the centre "
            f"{layer.alias} unit, rows {box.top}-{box.top + box.height - 1} and columns "
            f"{box.left}-{box.left + box.width - 1} of the {size}x{size} input."
        )

    def _config_values(self, options, layer) -> dict:
        prior = ["generator", "generator_weights", "encoder", "encoder_weights"]
        if options["method"] == "pixel" and (given := [o for o in prior if options[o]]):
            flags = ", ".join(f"--{option.replace('_', '-')}" for option in given)
            raise ValueError(f"the pixel method uses no generator nor encoder; leave out {flags}")
        generator = options["generator"] or loading.default_generator(options["network"])
        steps = ("eps1", "eps2", "eps3", "lr", "lr_end", "pixel_lr")  # given: else AMConfig's
        return {
            **{name: options[name] for name in steps if options[name] is not None},
            "network": options["network"],
            "layer": layer.alias,
            "weights": _text(options["weights"]),
            "generator": generator,
            "generator_weights": _text(options["generator_weights"]),
            "encoder": options["encoder"],
            "encoder_weights": _text(options["encoder_weights"]),
            "images_per_unit": options["images"],
            "base_seed": options["seed"],
            "spatial": options["spatial"],
            "pre_relu": not options["post_relu"],
            "crop": options["crop"],
            "reset_every": options["reset_every"],
            "threshold": options["threshold"],
            "iterations": options["iterations"],
            "batch_size": options["batch"],
            "device": self._device(options["device"]),
            "precision": "bf16" if options["bf16"] else "fp32",
            "method": options["method"],
            "cpu_threads": options["cpu_threads"],
            "channels_last": options["channels_last"],
            "compile": options["compile"],
        }

    def _device(self, requested: str | None) -> str:
        _, world_size, local_rank = self._rank()
        return distributed.device_for_rank(requested, world_size=world_size, local_rank=local_rank)

    def _out(self, options) -> Path:
        out = options["out"]
        if out is None:
            return Path(settings.VAR_DIR) / "am" / options["network"] / options["layer"]
        blocking = file_in_the_way(out)
        if blocking is not None:
            raise ValueError(f"--out {out}: {blocking} is a file; give a folder")
        return out

    def _rank(self) -> tuple[int, int, int]:
        try:
            return distributed.distributed_rank()
        except ValueError as error:
            raise CommandError(f"Bad torchrun environment: {error}") from None

    def _experiment(self, slug: str):
        return experiment_get(slug, hint=", or leave out --experiment to only write the panels")

    def _registration_check(self, experiment, run) -> None:
        """Refuse before any work a run whose panels the experiment would not take."""
        try:
            services.registration_refusal_raise(
                experiment=experiment,
                network=run.config.network,
                layer=run.config.layer,
                units=run.units,
                settings=run.settings(),
            )
        except (ValueError, OSError) as error:  # OSError: a weights file is missing
            raise CommandError(f"{error} Nothing was generated.") from None

    def _generate(self, run, mine, rank, world_size) -> list[dict]:
        pending = outputs.pending_units(run.out, mine)
        self.stdout.write(
            f"rank {rank}/{world_size}: {len(mine)} units, "
            f"{len(mine) - len(pending)} already done, writing to {run.out}"
        )
        my_run = pipeline.PanelRun(**{**run.__dict__, "units": mine, "planned": run.units})
        started, images = time.perf_counter(), 0
        with tqdm(total=len(pending), unit="unit", disable=not pending) as bar:

            def count_images(count):
                nonlocal images
                images += count
                bar.set_postfix_str(f"{images / (time.perf_counter() - started):.1f} images/s")

            try:
                return pipeline.panels_generate(
                    my_run, on_unit=lambda *_: bar.update(), on_images=count_images
                )
            except ValueError as error:
                raise CommandError(str(error)) from None
            except OSError as error:  # --out full or unusable, files missing
                if error.strerror is None:  # a message of its own: a weights file missing, say
                    raise CommandError(str(error)) from None
                raise CommandError(
                    f"Stopped: {os_error_message(error, run.out)}. {_kept(run, mine)}; run the "
                    "same command again to make the rest."
                ) from None
            except RuntimeError as error:  # torch.OutOfMemoryError, or the CPU's allocator
                if not _out_of_memory(error):
                    raise
                raise CommandError(
                    f"Stopped: out of memory on {run.config.device} with --batch "
                    f"{run.config.batch_size} ({str(error).strip().partition(chr(10))[0]}). "
                    f"{_kept(run, mine)}; run the same command with a smaller --batch to make "
                    "the rest (the batch is not one of the settings a folder's units must share)."
                ) from None
            except KeyboardInterrupt:  # Ctrl-C: the units written so far are whole and kept
                done = len(outputs.done_units(run.out, mine))
                raise CommandError(
                    f"Stopped: {done} of this run's {len(mine)} units are in {run.out}. Run the "
                    "same command again to make the rest.",
                    returncode=130,
                ) from None

    def _register(self, experiment, run, rank, world_size):
        if world_size > 1:
            distributed.wait_for_all_ranks()
        if rank != 0:
            return  # one rank registers, so each panel is stored once
        try:
            panels = services.generated_panels_register(
                experiment=experiment,
                root=run.out,
                network=run.config.network,
                layer=run.config.layer,
                units=run.units,
            )
        except ValueError as error:  # e.g. the experiment's lists are fixed
            raise CommandError(f"{error} The panels are in {run.out}.") from None
        except OSError as error:  # a full or read-only MEDIA_ROOT: rolled back, files deleted
            raise CommandError(
                f"The panels are in {run.out} but none was registered: "
                f"{os_error_message(error)}. Once that is mended, run register_panels {run.out} "
                f"--experiment {experiment.slug} (or this command again)."
            ) from None
        self.stdout.write(f"Registered {len(panels)} new panels in experiment {experiment.slug}")
        missing = len(run.units) - len(outputs.done_units(run.out, run.units))
        if missing:
            self.stdout.write(
                self.style.WARNING(
                    f"{missing} of the {len(run.units)} units are not in {run.out} (written on "
                    "another machine?) and were not registered: copy their unit folders into "
                    f"it and run register_panels {run.out} --experiment {experiment.slug}."
                )
            )
        config = run.config
        for warning in (
            services.settings_mix_message(
                experiment=experiment, network=config.network, layer=config.layer
            ),
            lists_outdated_message(experiment=experiment),
        ):
            if warning:
                self.stdout.write(self.style.WARNING(warning))


def _text(path: Path | None) -> str | None:
    """A path as the settings record it: absolute, so that image_regenerate finds the file
    from any folder (weights are compared by digest, so the spelling changes no settings)."""
    return None if path is None else str(path.resolve())


def _cpu_threads_check(count: int) -> None:
    """More threads than CPUs never help, and torch crashes (no message) on absurd counts."""
    cpus = usable_cpus()
    if count > cpus:
        raise ValueError(f"--cpu-threads {count}: this run may use {cpus} CPUs; give at most that")


def _kept(run, mine: list[int]) -> str:
    """What a stopped run leaves: its finished units, whole."""
    done = len(outputs.done_units(run.out, mine))
    return f"{done} of this run's {len(mine)} units are finished in {run.out} and kept"


def _out_of_memory(error: RuntimeError) -> bool:
    """Whether torch failed for want of memory: a GPU's (torch.OutOfMemoryError) or the CPU
    allocator's ("can't allocate memory")."""
    return isinstance(error, torch.OutOfMemoryError) or "allocate memory" in str(error)
