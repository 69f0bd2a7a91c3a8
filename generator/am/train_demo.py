"""`python -m generator.am.train_demo`: train the demo network and its generator (demo.py) and
save them where the registry looks, without Django (a GPU machine with only torch, say).

A module of its own: run as `-m generator.am.demo`, the demo module would be imported twice,
once by the package (which registers its network) and once as __main__.
"""

from generator.am.demo import train_demo

if __name__ == "__main__":
    report = train_demo()
    print(
        f"Demo network (held-out accuracy {report['heldout_accuracy']:.1%}) and generator "
        f"saved to {report['net'].parent} in {report['seconds']:.1f} s"
    )
