"""Django-free activation-maximization core: networks, generators, samplers.

Importing the package registers every built-in network, the demo network included.
"""

from generator.am import demo, networks, zoo  # noqa: F401  (registers the networks)
