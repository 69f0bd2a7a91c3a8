"""A tqdm bar on the command's stderr, driven through an `advance(n)` callback."""

from collections.abc import Callable

from tqdm import tqdm


def progress_bar(stderr, *, total: int, initial: int = 0, **options) -> Callable[[int], None]:
    """Return `advance(n)`: moves the bar by n and closes it when it reaches `total`."""
    bar = tqdm(total=total, initial=initial, file=stderr._out, **options)

    def advance(n: int) -> None:
        bar.update(n)
        if bar.n >= total:
            bar.close()

    return advance
