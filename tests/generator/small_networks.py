"""Specs of the small networks that tests write for themselves (the registry's fields that
such a test does not care about filled in)."""

from generator.am.networks import LayerSpec, NetworkSpec


def small_spec(name: str, builder, *layers: LayerSpec, input_size=16, classes=0) -> NetworkSpec:
    """The spec of network `name` built by `builder`, with `layers`, grey-centred inputs of
    `input_size` pixels and `classes` classes named by their index."""
    return NetworkSpec(
        name=name,
        layers={layer.alias: layer for layer in layers},
        input_size=input_size,
        mean=(0.5,) * 3,
        std=(0.5,) * 3,
        num_classes=classes,
        class_names=tuple(str(index) for index in range(classes)),
        class_ids=("",) * classes,
        builder=builder,
    )
