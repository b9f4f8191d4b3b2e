"""How the size budget finds the fewest briefings to move: interpolation on the sizes
measured, with bisection steps when the sizes are not near a line."""

from digest.render.budget import _fewest_that_fit


def _measured(size):
    calls: list[int] = []

    def size_of(k: int) -> int:
        calls.append(k)
        return size(k)

    return calls, size_of


def test_sizes_on_a_line_take_four_renders():
    # 100,000 bytes less 1,000 a moved item; 90,500 allowed: 10 is the fewest (9 leaves 91,000).
    calls, size_of = _measured(lambda k: 100_000 - 1_000 * k)
    assert _fewest_that_fit(40, size_of, 90_500) == 10
    # 0 (the body as it is), 4 (every byte taken as moving with the items: too few),
    # 10 (the line through 0 and 4), 9 (the line through 4 and 10 says 10: is 9 enough?).
    assert calls == [0, 4, 10, 9]


def test_a_step_is_found_exactly():
    calls, size_of = _measured(lambda k: 100_000 if k < 37 else 50_000)
    assert _fewest_that_fit(200, size_of, 90_000) == 37
    assert 36 in calls and 37 in calls and len(calls) <= 12


def test_none_when_even_moving_everything_is_too_big():
    calls, size_of = _measured(lambda k: 100_000 - 10 * k)
    assert _fewest_that_fit(50, size_of, 90_000) is None
    assert 50 in calls


def test_a_body_that_grows_at_first_still_finds_the_fewest():
    # Moving the first item adds a related-news block (the body grows), then it shrinks.
    sizes = {0: 95_093, 1: 95_406}
    calls, size_of = _measured(lambda k: sizes.get(k, 95_406 - 1_900 * (k - 1)))
    assert _fewest_that_fit(24, size_of, 95_000) == 2
