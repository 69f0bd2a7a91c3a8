"""Which networks a run loads (the target, and for PPGN the generator and its encoder), from
which weights files, and loading them into a sampler.

Django-free, as the rest of `generator/am/`.
"""

from __future__ import annotations

import os
from pathlib import Path

from generator.am.config import AMConfig
from generator.am.deepsim import available_generators, get_generator, load_generator
from generator.am.networks import NetworkSpec, get_network, load_network, weights_file_check
from generator.am.pixel import PixelSampler
from generator.am.ppgn import PPGNSampler


def weights_files(config: AMConfig) -> dict[str, Path]:
    """The weights file of each network a run loads: "target", and for PPGN "generator" and,
    when it is a network of its own, "encoder"."""
    files = {"target": _network_weights(config.network, config.weights)}
    if config.method == "ppgn":
        spec = get_generator(config.generator)
        files["generator"] = (
            Path(config.generator_weights) if config.generator_weights else spec.default_weights()
        )
        if separate_encoder(config):
            files["encoder"] = _network_weights(encoder_of(config), config.encoder_weights)
    return files


def weights_files_present(config: AMConfig) -> dict[str, Path]:
    """weights_files, each one there; FileNotFoundError naming the first that is missing, the
    network it is for and how to obtain it (before a resumed run compares the files' digests
    with the folder's, which would only say they differ)."""
    files = weights_files(config)
    for role, path in files.items():
        if path.is_file():
            continue
        if role == "generator":
            spec = get_generator(config.generator)
        else:
            spec = get_network(config.network if role == "target" else encoder_of(config))
        how = _for_encoder(spec.how_to_obtain) if role == "encoder" else spec.how_to_obtain
        weights_file_check(path, f"of the {role} network {spec.name!r}", how)
    return files


def _for_encoder(advice: str) -> str:
    """A network's advice as it reads for its role as the encoder: its own names the target's
    options."""
    return advice.replace("--weights PATH", "--encoder-weights PATH").replace(
        "give --network ", "give --encoder "
    )


def _network_weights(name: str, weights: str | None) -> Path:
    return Path(weights) if weights else get_network(name).weights_path()


def default_generator(network: str) -> str:
    """The generator trained on this network's own code, else ppgn's DeePSiM fc6."""
    for name in available_generators():
        if network in get_generator(name).encoder_networks:
            return name
    return "deepsim-fc6"


def encoder_of(config: AMConfig) -> str:
    """The prior's encoder E: ``config.encoder``, else the target when the generator takes its
    code, else the generator's first encoder network. ValueError for an E whose code the
    generator was not trained to invert (another network's fc6 may have the right size, but
    its features mean something else)."""
    generator = get_generator(config.generator)
    encoders = generator.encoder_networks
    name = config.encoder or (config.network if config.network in encoders else encoders[0])
    get_network(name)  # an unknown name: the registry's message lists the known ones
    if name not in encoders:
        raise ValueError(
            f"Encoder {name!r} cannot serve generator {generator.name!r}: it inverts the "
            f"{generator.encoder_layer} code of {' or '.join(encoders)}; pick one of those "
            "(with --encoder-weights for other weights of it)"
        )
    return name


def separate_encoder(config: AMConfig) -> bool:
    """Whether the prior's encoder is a network of its own rather than the target itself (its
    own weights given: a file other than the target's, however the paths are spelt)."""
    if encoder_of(config) != config.network:
        return True
    if config.encoder_weights is None or config.encoder_weights == config.weights:
        return False
    target = _network_weights(config.network, config.weights)
    try:
        return not os.path.samefile(config.encoder_weights, target)
    except OSError:  # a file missing: loading it says which
        return True


def output_layer(spec: NetworkSpec) -> str | None:
    """Alias of the network's classifier output layer, where one is registered."""
    for layer in spec.layers.values():
        if layer.kind == "fc" and layer.units == spec.num_classes and not layer.rectified_after:
            return layer.alias
    return None


def sampler_build(config: AMConfig) -> PPGNSampler | PixelSampler:
    """Load the target network (and for PPGN the generator and its encoder); a sampler.

    The encoder E is ``config.encoder``, else the target when G takes its code, else G's first
    encoder network. When E is the target network with the target's weights, one forward pass
    serves both; otherwise E loads from ``encoder_weights`` or its standard file.
    """
    files = weights_files(config)
    target = load_network(config.network, weights=files["target"], device=config.device)
    if config.method == "pixel":
        return PixelSampler(target=target, config=config)
    generator_spec = get_generator(config.generator)
    generator = load_generator(config.generator, weights=files["generator"], device=config.device)
    encoder_name = encoder_of(config)
    encoder = target
    if "encoder" in files:
        try:
            encoder = load_network(encoder_name, weights=files["encoder"], device=config.device)
        except ValueError as error:
            raise ValueError(f"The encoder network: {_for_encoder(str(error))}") from None
    return PPGNSampler(
        target=target,
        generator=generator,
        encoder=encoder,
        encoder_layer=generator_spec.encoder_layer,
        config=config,
    )
