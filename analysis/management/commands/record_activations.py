"""Record a registered network's activations over an image folder or the demo digits."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analysis.management.commands._progress import progress_bar
from analysis.selectivity.activations import REDUCTIONS, ActivationFileError
from analysis.selectivity.recording import (
    LayerRecorder,
    folder_source,
    record,
    tensor_source,
)
from experiment.files import file_in_the_way, os_error_message
from generator.am.distributed import device_for_rank
from generator.am.networks import available_networks, get_network, load_network
from generator.am.provenance import file_sha256


class Command(BaseCommand):
    help = (
        "Run a registered network over images, keep the correctly classified ones (top-1) and "
        "write their activations to HDF5 (schema: docs/measures.md). Rerun to resume."
    )

    def add_arguments(self, parser):
        parser.add_argument("--network", required=True, help=f"One of {available_networks()}.")
        parser.add_argument("--layers", default="", help="Comma-separated aliases; default all.")
        images = parser.add_mutually_exclusive_group(required=True)
        images.add_argument("--images", type=Path, help="ImageNet layout: one folder per wnid.")
        images.add_argument("--dataset", choices=["demo"], help="The demo network's digits.")
        parser.add_argument("--out", required=True, type=Path)
        parser.add_argument("--reduction", choices=REDUCTIONS, default="max")
        parser.add_argument("--pre-relu", action="store_true", help="Default: post-ReLU values.")
        parser.add_argument("--weights", type=Path, help="Default: the network's standard file.")
        parser.add_argument("--batch-size", type=int, default=64)
        parser.add_argument("--device", default="cpu")

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError(f"--batch-size must be at least 1, not {options['batch_size']}.")
        out = options["out"]
        if out.is_dir():
            raise CommandError(f"Cannot write {out}: give the path of an HDF5 file, not a folder.")
        blocking = file_in_the_way(out.parent)
        if blocking is not None:
            raise CommandError(f"Cannot write {out}: {blocking} is a file, not a folder.")
        try:
            device_for_rank(options["device"], world_size=1, local_rank=0)
            spec = get_network(options["network"])
            layers = [a.strip() for a in options["layers"].split(",") if a.strip()]
            if options["layers"].strip() and not layers:
                raise CommandError(f"--layers {options['layers']!r} names no layer.")
            source = self._source(spec, options)  # refused before the weights are loaded
            network = load_network(spec.name, weights=options["weights"], device=options["device"])
            recorder = LayerRecorder(
                network,
                layers or list(spec.layers),
                reduction=options["reduction"],
                pre_relu=options["pre_relu"],
            )
            seen, kept = record(
                recorder,
                source,
                options["out"],
                batch_size=options["batch_size"],
                progress=self._progress,
                weights_sha256=file_sha256(options["weights"] or spec.weights_path()),
            )
        except ValueError as error:  # ActivationFileError: what a failed write kept, say
            raise CommandError(str(error)) from None
        except OSError as error:  # a missing weights file, a folder that cannot be made...
            raise CommandError(os_error_message(error, out)) from None
        self.stdout.write(f"{seen} images seen, {kept} correctly classified kept: {options['out']}")

    def _source(self, spec, options):
        if options["dataset"] == "demo":
            if spec.name != "demo":
                raise ActivationFileError("--dataset demo is for --network demo.")
            from generator.am.demo import digits_dataset

            return tensor_source("demo-digits", *digits_dataset(spec.input_size))
        if not any(spec.class_ids):
            raise ActivationFileError(_no_wordnet_ids_message(spec.name))
        return folder_source(options["images"], spec.class_ids, spec.input_size)

    def _progress(self, total: int, start: int):
        return progress_bar(self.stderr, total=total, initial=start, unit="image")


def _no_wordnet_ids_message(network: str) -> str:
    """Why --images cannot serve `network`, and what to do instead."""
    named = [name for name in available_networks() if any(get_network(name).class_ids)]
    instead = (
        "use --dataset demo"
        if network == "demo"
        else "record its activations elsewhere into the HDF5 layout of docs/measures.md "
        "('Activation files') and give that file to compute_selectivity, or import scores with "
        "import_selectivity"
    )
    return (
        "--images needs a network whose classes have WordNet ids, which name the class folders "
        f"(the ImageNet classifiers {', '.join(named)}); {network} has none: {instead}."
    )
