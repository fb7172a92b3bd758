"""Object-level checks of Pong and Breakout frames (`frames.preprocess`'s output, any size, grey
or RGB): is there at most one ball, are the paddles there once with the right size in their own
band, does the ball move no faster than the game lets it, do Breakout's bricks only disappear.

How objects are read. PIL's BOX resize (`frames.preprocess`) averages blocks of screen pixels, so a
frame pixel is a mixture of the background and the colours it covers. For colours c_k and the
background b, a pixel p's shares are the least-squares `alpha` of `p - b = sum_k alpha_k (c_k -
b)` (in grey, `(p - b) / (c - b)` of their `grey_value`s); in RGB the pixel must also lie within
`COLOUR_TOLERANCE` of that mixture. An object is a connected component (8-neighbour,
scipy.ndimage.label) of pixels with a share of at least `PIXEL_SHARE` (less in small frames),
grown by one pixel to keep its faint edges. Its mass, the sum of the shares times the screen
pixels each frame pixel averages, is its area in screen pixels at any frame size; its
share-weighted centre is in screen coordinates. The block each frame pixel averages is PIL's own
(`_box_weights`: `floor` or `ceil` of the scale, not `frames.scale_factors`' fractional areas,
which would miss a ball's mass by up to 1.9x at size 84). Expected sizes are the emulator's
(constants below).

Where a paddle's colour cannot be told from the ball's (grey Pong: the paddles are 148 and 147
against a ball of 236, and a ball's edge pixel mixed with the background is 148 too; Breakout:
one colour), a paddle is only looked for in its band (Pong: its columns; Breakout: its rows); a
piece there too short for a paddle, or off the band's middle, is the ball passing through, and a
paddle as long as itself and a ball, in a frame with no ball elsewhere, is the two touching. In
RGB Pong ball, paddle and background are unmixed together in the band. A sharp object's peak
share is at least the lowest the emulator's frames give at that size (computed from the
geometry): a blurred copy falls under `PEAK_FRACTION` of it and is not the object.

Every check returns a rate in [0, 1] over frames (or steps), 1 perfect, except `multi_ball_rate`
(0 perfect) and `no_ball_rate` (compare it with the data's: `object_checks(..., reference=)`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

from datasets.video.frames import LUMA, grey_value

Colour = tuple[int, int, int]
Crop = tuple[int, int, int, int]

#: Pong's play field (rows 34..193, all columns): the scores above, the white walls at 24-33
#: and 194-209 left out
PONG_CROP: Crop = (34, 194, 0, 160)
#: Breakout's play field: rows 32..195 (below the grey top wall, down past the paddle), columns
#: 8..151 (inside the grey side walls); the score and lives above are left out
BREAKOUT_CROP: Crop = (32, 196, 8, 152)

#: the least share of an object's colour that makes a pixel part of it (seed threshold)
PIXEL_SHARE = 0.15
#: RGB: the farthest (0..255 units, Euclidean) a pixel may lie from the background-object mixture
COLOUR_TOLERANCE = 24.0
#: a real object's peak share reaches this fraction of the lowest one the emulator gives
PEAK_FRACTION = 0.7
#: pieces lighter than this many screen pixels are noise, not objects
MASS_FLOOR = 2.0
#: a ball weighs between these fractions of its sprite's area (more near an edge that clips it)
BALL_MASS_RANGE = (0.5, 1.6)
#: a paddle's length may differ from the emulator's by this many screen pixels
LENGTH_TOLERANCE = 3.0
#: a paddle's centre across its band may be off the band's middle by this many screen pixels
ACROSS_TOLERANCE = 1.5
#: slack on the largest step of the ball, screen pixels (centres of clipped balls shift)
SPEED_TOLERANCE = 2.5
#: slack on the longest run of frames without a ball, steps
NO_BALL_SLACK = 2
#: a brick wall's luminous area may grow from one frame to the next by this many balls' (the
#: ball entering the brick rows); a brick is 6 such balls at the least bright row
BRICK_GROWTH_BALLS = 1.5
#: a new wall may appear at once: a jump to at least this share of the full wall's luma, from
#: at most 1 - NEW_WALL_SHARE of it (the old wall cleared, or nearly)
NEW_WALL_SHARE = 0.9

_STRUCTURE = np.zeros((3, 3, 3), dtype=bool)
_STRUCTURE[1] = True        # 8-neighbours within a frame, none across frames


@dataclass(frozen=True)
class Paddle:
    """A paddle: its colour, the frame axis it moves along (0 rows, 1 columns), the screen
    coordinates `[start, stop)` it occupies across that axis, its allowed lengths along it (screen
    pixels), the least of it seen where the field's edge clips it, and whether it may be missing
    while the ball is."""

    colour: Colour
    axis: int
    band: tuple[int, int]
    lengths: tuple[float, ...]
    min_visible: float = 1.0
    optional: bool = False


@dataclass(frozen=True)
class Game:
    """What the checks know of a game, in screen pixels (absolute screen coordinates)."""

    field: Crop
    background: Colour
    ball: Colour
    ball_size: tuple[int, int]                  # (rows, columns) of the ball sprite
    ball_min_rows: int                          # the shortest unclipped ball sprite seen
    max_step: tuple[float, float]               # largest |d row|, |d column| per agent step
    paddles: tuple[tuple[str, Paddle], ...]
    hidden_rows: tuple[int, int] | None = None  # rows where no ball is looked for
    max_no_ball_steps: int | None = None        # longest legal run of frames with no ball


#: Measured on ALE/Pong-v5 (frameskip 4, repeat_action_probability 0), exact colour masks of the
#: screens: 6 episodes of random play (up to 4000 steps, persistent actions) and 4 of a noisy
#: ball-tracking player (up to 5000 steps): paddles 4 columns (16-19, 140-143) by 16 rows, clipped
#: where they enter the walls; the ball 2 columns by 4 rows (3 and 5 rarely); the largest step of
#: the ball's centre |d row| 12.5, |d column| 4.1 (16823 steps; |d row| 12 in 24 of them); after a
#: point no ball for 14-16 steps (and single frames), the opponent's paddle missing meanwhile.
PONG = Game(
    field=(34, 194, 0, 160), background=(144, 72, 17), ball=(236, 236, 236), ball_size=(4, 2),
    ball_min_rows=3, max_step=(12.5, 4.1),
    paddles=(("opponent", Paddle((213, 130, 74), 0, (16, 20), (16.0,), optional=True)),
             ("player", Paddle((92, 186, 92), 0, (140, 144), (16.0,)))),
    max_no_ball_steps=16)

#: Measured on ALE/Breakout-v5 (frameskip 4, repeat_action_probability 0): 12 episodes of random
#: play and 4 of a noisy tracking player (3950 tracked steps): one colour (200, 72, 72) for the
#: ball, the paddle and the top brick row; the paddle rows 189-192, 16 columns wide (clipped to 8
#: behind the right wall; 8 is also the half paddle the game gives once the ball reaches the top
#: wall); the ball 2 by 4; its largest step |d row| 14, |d column| 8 (the tracking player's later,
#: faster balls; random play reached 8 and 6); bricks in rows 57-92 (6 rows of 6, 18 of 8
#: columns). No ball is legal for long: the game waits for FIRE.
BREAKOUT = Game(
    field=(32, 196, 8, 152), background=(0, 0, 0), ball=(200, 72, 72), ball_size=(4, 2),
    ball_min_rows=3, max_step=(14.0, 8.0),
    paddles=(("paddle", Paddle((200, 72, 72), 1, (189, 193), (16.0, 8.0), min_visible=8.0)),),
    hidden_rows=(57, 93))
#: Breakout's brick rows: (first screen row, colour), 6 rows each
BRICK_ROWS: tuple[tuple[int, Colour], ...] = (
    (57, (200, 72, 72)), (63, (198, 108, 58)), (69, (180, 122, 48)), (75, (162, 162, 42)),
    (81, (72, 160, 72)), (87, (66, 72, 200)))
GAMES = {"pong": PONG, "breakout": BREAKOUT}


@lru_cache(maxsize=64)
def _box_weights(length: int, n: int) -> np.ndarray:
    """`[n, length]`: how PIL's BOX filter (`frames.preprocess`) makes n frame pixels from
    `length` screen pixels along one axis: each screen pixel whose centre falls in a frame
    pixel's box goes to it, with equal weights summing to 1 (one screen pixel per frame pixel when
    enlarging). Not exact areas: a pixel averages `floor` or `ceil` of the scale's screen pixels.
    """
    scale = length / n
    support = 0.5 * max(scale, 1.0)
    centres = (np.arange(n) + 0.5) * scale
    source = np.arange(length) + 0.5
    box = (source[None] > centres[:, None] - support) & (source[None] <= centres[:, None]
                                                          + support)
    weights = box / box.sum(axis=1, keepdims=True)
    weights.flags.writeable = False
    return weights


@lru_cache(maxsize=256)
def _lowest_peak(extent: int, length: int, n: int) -> float:
    """The lowest, over integer positions along an axis of `length` screen pixels, of the largest
    share of one of its n frame pixels that a segment of `extent` screen pixels fills."""
    extent = min(max(extent, 1), length)
    cumulative = np.pad(np.cumsum(_box_weights(length, n), axis=1), ((0, 0), (1, 0)))
    filled = cumulative[:, extent:] - cumulative[:, :-extent]
    return float(filled.max(axis=0).min())


def _unmix(x: np.ndarray, colours: tuple[Colour, ...], background: Colour
           ) -> tuple[np.ndarray, np.ndarray]:
    """Shares `[..., k]` of k colours in each pixel of `x` `[..., C]` over the background (least
    squares), and the pixel's distance `[...]` from that mixture (0 in grey, where k must be 1:
    `(p - b) / (c - b)` of the grey values)."""
    if x.shape[-1] == 1:
        grey_bg = grey_value(background)
        share = (x[..., :1] - grey_bg) / (grey_value(colours[0]) - grey_bg)
        return share, np.zeros(x.shape[:-1], dtype=np.float32)
    basis = np.array(colours, dtype=np.float32).T - np.array(background, np.float32)[:, None]
    d = x - np.asarray(background, dtype=np.float32)
    share = np.tensordot(d, np.linalg.pinv(basis).T, axes=1)     # one matrix product
    rest = d - np.tensordot(share, basis.T, axes=1)
    return share, np.sqrt(np.einsum("...c,...c->...", rest, rest))


def _unmix_in(x: np.ndarray, mask: np.ndarray, colours: tuple[Colour, ...],
              background: Colour) -> tuple[np.ndarray, np.ndarray]:
    """`_unmix` of the pixels in `mask` `[H, W]` only; elsewhere shares 0 and distance inf."""
    share = np.zeros((*x.shape[:3], len(colours)), dtype=np.float32)
    off = np.full(x.shape[:3], np.inf, dtype=np.float32)
    share[:, mask], off[:, mask] = _unmix(x[:, mask], colours, background)
    return share, off


def _contrast(colour: Colour, background: Colour, grey: bool) -> float:
    """How far `colour` stands from the background: the grey values' difference in grey, the
    RGB distance otherwise."""
    if grey:
        return float(abs(grey_value(colour) - grey_value(background)))
    return float(np.linalg.norm(np.subtract(colour, background)))


@dataclass
class _Parts:
    """Connected pieces, one entry each: frame, mass (screen pixels), peak share, centre (row,
    col: screen coordinates of the field), touches (a pixel in the edge mask); `labels`
    `[F, H, W]` (0: none, k: piece k - 1)."""

    frame: np.ndarray
    mass: np.ndarray
    peak: np.ndarray
    row: np.ndarray
    col: np.ndarray
    touches: np.ndarray
    labels: np.ndarray

    def pixels(self, keep: np.ndarray) -> np.ndarray:
        """`[F, H, W]`: the pixels of the pieces picked by `keep` `[K]`."""
        return np.concatenate([[False], keep])[self.labels]

    def per_frame(self, keep: np.ndarray, count: int) -> np.ndarray:
        """`[count]`: how many of the pieces picked by `keep` lie in each frame."""
        return np.bincount(self.frame[keep], minlength=count)


def _parts(seed: np.ndarray, grow: np.ndarray, share: np.ndarray, edge: np.ndarray,
           geometry: _Geometry, peak_share: np.ndarray | None = None) -> _Parts:
    """The components of `seed` `[F, H, W]`, each grown by a pixel into `grow`, weighed by
    `share` (clipped to [-1, 1]) times the screen pixels each frame pixel stands for; centres in
    screen coordinates of the field; peaks of `peak_share` (default `share`)."""
    labels, n = ndimage.label(seed, structure=_STRUCTURE)
    grown = ndimage.grey_dilation(labels, footprint=_STRUCTURE)
    labels = np.where((labels == 0) & grow, grown, labels)
    if n == 0:
        empty = np.zeros(0)
        return _Parts(empty.astype(int), empty, empty, empty, empty, empty.astype(bool), labels)
    where = np.nonzero(labels)          # objects are small: work on their pixels only
    label = labels[where] - 1
    frame, row, col = where
    share_at = np.clip(share[where], -1.0, 1.0)
    weight = share_at * geometry.pixel_area[row, col]
    mass = np.bincount(label, weight, minlength=n)
    peak = np.full(n, -np.inf)
    np.maximum.at(peak, label, share_at if peak_share is None else peak_share[where])
    touches = np.zeros(n, dtype=bool)
    touches[label[np.broadcast_to(edge, labels.shape)[where]]] = True
    first = np.zeros(n, dtype=np.int64)     # a piece lies in one frame
    first[label] = frame
    safe = np.where(mass > 0, mass, 1.0)
    return _Parts(
        frame=first, mass=mass, peak=peak,
        row=np.bincount(label, weight * geometry.centres[0][row], minlength=n) / safe,
        col=np.bincount(label, weight * geometry.centres[1][col], minlength=n) / safe,
        touches=touches, labels=labels)


def _border(size: int, axis: int | None = None) -> np.ndarray:
    """`[size, size]` True on the frame's outer pixels (only the first and last along `axis`
    when given: axis 0, the first and last rows)."""
    border = np.zeros((size, size), dtype=bool)
    if axis in (None, 0):
        border[[0, -1], :] = True
    if axis in (None, 1):
        border[:, [0, -1]] = True
    return border


class _Geometry:
    """How a crop becomes `size x size` frame pixels (`_box_weights` along rows and columns)."""

    def __init__(self, crop: Crop, size: int) -> None:
        self.offsets = (crop[0], crop[2])
        self.lengths = (crop[1] - crop[0], crop[3] - crop[2])
        self.size = size
        self.weights = tuple(_box_weights(length, size) for length in self.lengths)
        # the screen pixels a frame pixel stands for (mass kept exactly: `spans @ weights` = 1)
        spans = [np.linalg.lstsq(w.T, np.ones(w.shape[1]), rcond=None)[0] for w in self.weights]
        self.pixel_area = spans[0][:, None] * spans[1][None, :]
        #: the mean screen coordinate (field, pixel centres) each frame pixel averages
        self.centres = tuple(w @ (np.arange(w.shape[1]) + 0.5) for w in self.weights)

    def cover(self, axis: int, span: tuple[int, int]) -> np.ndarray:
        """`[size]`: the share of each frame pixel along `axis` that screen coordinates
        `[start, stop)` fill."""
        start, stop = (int(np.clip(v - self.offsets[axis], 0, self.lengths[axis])) for v in span)
        return self.weights[axis][:, start:stop].sum(axis=1)

    def lines(self, axis: int, span: tuple[int, int]) -> np.ndarray:
        """`[size, size]`: the frame pixels that overlap screen coordinates `span` along
        `axis`."""
        mask = np.zeros((self.size, self.size), dtype=bool)
        hit = self.cover(axis, span) > 0
        if axis == 0:
            mask[hit, :] = True
        else:
            mask[:, hit] = True
        return mask

    def lowest_peak(self, axis: int, extent: float) -> float:
        """The lowest peak share along `axis` of a segment of `extent` screen pixels."""
        return _lowest_peak(int(extent), self.lengths[axis], self.size)


def _paddle_verdicts(parts: _Parts, paddle: Paddle, geometry: _Geometry, ball_units: float,
                     ambiguous: bool) -> dict[str, np.ndarray]:
    """Per piece found in a paddle's band, `[K]` flags: `like` (taken for the paddle), `valid`
    (and of its size, place and sharpness), `merged` (sharp and in place but as long as the
    paddle and a ball of `ball_units` screen pixels in the paddle's colour: the ball touches it),
    `stray` (a piece of something else: the ball, when the colours are ambiguous)."""
    across = 1 - paddle.axis
    thickness = paddle.band[1] - paddle.band[0]
    length = parts.mass / thickness
    longest = max(paddle.lengths)
    significant = parts.mass >= MASS_FLOOR
    middle = 0.5 * (paddle.band[0] + paddle.band[1]) - geometry.offsets[across]
    placed = np.abs((parts.col if across == 1 else parts.row) - middle) <= ACROSS_TOLERANCE
    shortest = np.where(parts.touches, paddle.min_visible, min(paddle.lengths))
    like = significant & placed & (length >= 0.5 * shortest) if ambiguous else significant
    visible = np.clip(np.floor(np.minimum(length, longest)), 1, None)
    free = np.array([geometry.lowest_peak(paddle.axis, v) for v in visible])
    sharp = placed & (parts.peak >= PEAK_FRACTION * free * geometry.cover(across,
                                                                          paddle.band).max())
    sized = np.any([np.abs(length - v) <= LENGTH_TOLERANCE for v in paddle.lengths], axis=0)
    sized |= parts.touches & (length <= longest + LENGTH_TOLERANCE)
    merged = (like & sharp & ~sized & ambiguous
              & (length <= longest + ball_units / thickness + LENGTH_TOLERANCE))
    return {"like": like, "valid": like & sized & sharp, "merged": merged,
            "stray": significant & ~like}


def _ball_verdicts(balls: _Parts, game: Game, lowest: float) -> tuple[np.ndarray, np.ndarray]:
    """Per ball piece, `[K]` flags: significant (not noise), valid (of the ball's mass and
    sharp, or clipped by an edge and no heavier than a ball)."""
    sprite = float(game.ball_size[0] * game.ball_size[1])
    significant = balls.mass >= MASS_FLOOR
    sharp = (balls.mass >= BALL_MASS_RANGE[0] * sprite) & (balls.peak >= PEAK_FRACTION * lowest)
    return significant, significant & (balls.mass <= BALL_MASS_RANGE[1] * sprite) & (
        balls.touches | sharp)


def _detect(x: np.ndarray, game: Game, crop: Crop, size: int) -> dict[str, np.ndarray]:
    """Per frame of `x` `[F, size, size, C]` float: `balls` (count), `balls_ok`, `centre`
    `[F, 2]` (screen coordinates of the field; NaN unless exactly one valid ball is seen) and
    `<paddle>_ok`."""
    count, grey = len(x), x.shape[-1] == 1
    geometry = _Geometry(crop, size)
    ball_share, ball_off = _unmix(x, (game.ball,), game.background)
    ball_share = ball_share[..., 0]
    allowed = np.ones((size, size), dtype=bool)
    if game.hidden_rows is not None:
        allowed &= ~geometry.lines(0, game.hidden_rows)
    claimed = np.zeros(x.shape[:3], dtype=bool)
    strays, found = np.zeros(x.shape[:3], dtype=bool), {}
    for name, paddle in game.paddles:
        band = geometry.lines(1 - paddle.axis, paddle.band)
        ambiguous = grey or paddle.colour == game.ball
        if ambiguous:       # the band is the paddle's; the ball there is found among its pieces
            share, off = _unmix_in(x, band, (paddle.colour,), game.background)
            share = share[..., 0]
            allowed &= ~band
        else:               # ball, paddle and background mix in the band: unmix all three
            both, off = _unmix_in(x, band, (game.ball, paddle.colour), game.background)
            share = both[..., 1]
            ball_share = np.where(band, both[..., 0], ball_share)
            ball_off = np.where(band, off, ball_off)
        grow = band & (off <= COLOUR_TOLERANCE) & (share > 0)
        # sharpness counts the ball too where it covers the paddle
        solid = share if ambiguous else share + np.clip(ball_share, 0, None) * band
        parts = _parts(grow & (share >= PIXEL_SHARE), grow, share, _border(size, paddle.axis),
                       geometry, solid)
        ball_units = (game.ball_size[0] * game.ball_size[1]
                      * _contrast(game.ball, game.background, grey)
                      / _contrast(paddle.colour, game.background, grey))
        verdict = _paddle_verdicts(parts, paddle, geometry, ball_units, ambiguous)
        if ambiguous:
            strays |= parts.pixels(verdict["stray"])
            claimed |= parts.pixels(verdict["like"])
        found[name] = (paddle, *(parts.per_frame(verdict[k], count)
                                 for k in ("like", "valid", "merged")))
    edge = _border(size)[None] | ndimage.binary_dilation(~allowed[None] | claimed,
                                                         structure=_STRUCTURE)
    grow = (allowed[None] & (ball_off <= COLOUR_TOLERANCE) & (ball_share > 0)) | strays
    lowest = (geometry.lowest_peak(0, game.ball_min_rows)
              * geometry.lowest_peak(1, game.ball_size[1]))
    balls = _parts(grow & (ball_share >= min(PIXEL_SHARE, 0.5 * lowest)), grow, ball_share,
                   edge, geometry)
    significant, valid = _ball_verdicts(balls, game, lowest)
    seen = balls.per_frame(significant, count)
    # a paddle as long as itself and a ball, in a frame with no ball elsewhere: the ball touches it
    hidden = sum(((like == 1) & (ok == 0) & (merged == 1)).astype(int)
                 for _, like, ok, merged in found.values())
    total = seen + hidden
    out = {"balls": total,
           "balls_ok": (total <= 1) & (balls.per_frame(valid, count) == seen)}
    centre = np.full((count, 2), np.nan)
    one = valid & (total[balls.frame] == 1)
    centre[balls.frame[one], 0] = balls.row[one]
    centre[balls.frame[one], 1] = balls.col[one]
    out["centre"] = centre
    for name, (paddle, like, ok, merged) in found.items():
        good = (like == 1) & ((ok == 1) | ((merged == 1) & (total <= 1)))
        if paddle.optional:
            good |= (like == 0) & (total == 0)
        out[f"{name}_ok"] = good
    return out


def _as_windows(frames: np.ndarray, crop: Crop, size: int, game: Game) -> np.ndarray:
    """`frames` `[..., T, H, W, C]` as `[N, T, size, size, C]`, after checking shape and crop."""
    if frames.ndim < 4 or frames.shape[-3:-1] != (size, size) or frames.shape[-1] not in (1, 3):
        raise ValueError(f"frames must be [..., T, {size}, {size}, C] with C = 1 or 3; got "
                         f"{frames.shape}")
    top, bottom, left, right = game.field
    if not (top <= crop[0] < crop[1] <= bottom and left <= crop[2] < crop[3] <= right):
        raise ValueError(f"crop {crop} must lie inside the play field {game.field}")
    return frames.reshape(-1, *frames.shape[-4:])


def _rate(flags: np.ndarray) -> float:
    """The share of True in `flags`; 1.0 when there are none."""
    return float(flags.mean()) if flags.size else 1.0


def _track(frames: np.ndarray, game: Game, crop: Crop, size: int) -> dict[str, np.ndarray]:
    """`_detect` over windows `[N, T, size, size, C]` (in pieces of about 1024 frames), each
    result shaped `[N, T, ...]`, plus `speed_ok` `[N, T-1]` (NaN-free steps only are checked;
    others True) and `speed_measured` `[N, T-1]`."""
    n, steps = frames.shape[:2]
    per = max(1, 1024 // steps)
    pieces = [_detect(frames[i:i + per].reshape(-1, *frames.shape[2:]).astype(np.float32),
                      game, crop, size) for i in range(0, n, per)]
    out = {k: np.concatenate([p[k] for p in pieces]).reshape(n, steps, *pieces[0][k].shape[1:])
           for k in pieces[0]}
    step = np.abs(np.diff(out["centre"], axis=1))
    measured = np.isfinite(step).all(-1)
    limit = np.array(game.max_step) + SPEED_TOLERANCE
    out["speed_measured"] = measured
    out["speed_ok"] = ~measured | (np.nan_to_num(step, nan=0.0) <= limit).all(-1)
    return out


def _common(track: dict[str, np.ndarray], paddles_ok: np.ndarray) -> tuple[dict[str, float],
                                                                        np.ndarray]:
    """The rates every game shares, and the per-frame verdict `[N, T]` so far."""
    balls = track["balls"]
    speed_ok = track["speed_ok"]
    into = np.concatenate([np.ones_like(speed_ok[:, :1]), speed_ok], axis=1)
    rates = {"ball_ok_rate": _rate(track["balls_ok"]), "multi_ball_rate": _rate(balls > 1),
             "no_ball_rate": _rate(balls == 0),
             "ball_speed_ok_rate": _rate(speed_ok[track["speed_measured"]])}
    return rates, track["balls_ok"] & paddles_ok & into


def pong_checks(frames: np.ndarray, crop: Crop = PONG_CROP, size: int = 64) -> dict[str, float]:
    """Object checks of Pong frames `[N, T, size, size, C]` (uint8; any leading shape before T).

    Returns rates over frames: ball_ok_rate (at most one ball, of the ball's size and sharp),
    multi_ball_rate (more than one ball: 0 is right), no_ball_rate (legal for a few steps after
    a point: compare with the data's), paddles_ok_rate (each paddle once, in its column band, 16
    screen rows tall within LENGTH_TOLERANCE unless clipped at the field's edge, sharp; the
    opponent's may be missing while the ball is), ball_speed_ok_rate (over steps with one ball
    in both frames: the step within the game's largest plus SPEED_TOLERANCE; 1.0 when there are
    none), ball_absence_ok_rate (frames not in a run of no ball longer than the game's, 16 steps,
    plus NO_BALL_SLACK), frames_ok_rate (all of these hold for the frame and the step into it).
    """
    windows = _as_windows(frames, crop, size, PONG)
    track = _track(windows, PONG, crop, size)
    paddles_ok = track["opponent_ok"] & track["player_ok"]
    rates, frame_ok = _common(track, paddles_ok)
    absent = track["balls"] == 0
    too_long = np.zeros_like(absent)
    limit = PONG.max_no_ball_steps + NO_BALL_SLACK
    for w, t in zip(*np.nonzero(absent & ~np.pad(absent, ((0, 0), (1, 0)))[:, :-1])):
        end = t + int(np.argmin(np.append(absent[w, t:], False)))
        too_long[w, t:end] = end - t > limit
    rates["paddles_ok_rate"] = _rate(paddles_ok)
    rates["ball_absence_ok_rate"] = _rate(~too_long)
    rates["frames_ok_rate"] = _rate(frame_ok & ~too_long)
    return rates


def brick_luma(frames: np.ndarray, crop: Crop = BREAKOUT_CROP, size: int = 64) -> np.ndarray:
    """`[...]`: the luma summed over the frame rows that cover Breakout's brick rows, each pixel
    times the screen pixels it stands for, of frames `[..., size, size, C]`: the bricks'
    luminous area (background black is 0). Static parts cancel from one frame to the next."""
    geometry = _Geometry(crop, size)
    rows = geometry.cover(0, BREAKOUT.hidden_rows) > 0
    zone = frames[..., rows, :, :].astype(np.float64)
    luma = zone[..., 0] if frames.shape[-1] == 1 else zone @ LUMA
    return (luma * geometry.pixel_area[rows]).sum(axis=(-2, -1))


def breakout_checks(frames: np.ndarray, crop: Crop = BREAKOUT_CROP, size: int = 64
                    ) -> dict[str, float]:
    """Object checks of Breakout frames `[N, T, size, size, C]` (uint8; any leading shape).

    Returns rates: ball_ok_rate, multi_ball_rate, no_ball_rate (the ball is not looked for in the
    brick rows), ball_speed_ok_rate (as for Pong), paddle_ok_rate (once, in its rows, 16 screen
    columns wide (or 8) within LENGTH_TOLERANCE unless clipped at the field's edge, sharp),
    bricks_ok_rate (over steps: the bricks' luminous area (`brick_luma`) grows by no more than
    BRICK_GROWTH_BALLS balls, unless a new wall appears), frames_ok_rate (all hold for the frame
    and the step into it).
    """
    windows = _as_windows(frames, crop, size, BREAKOUT)
    track = _track(windows, BREAKOUT, crop, size)
    rates, frame_ok = _common(track, track["paddle_ok"])
    luma = brick_luma(windows, crop, size)
    ball = BREAKOUT.ball_size[0] * BREAKOUT.ball_size[1] * grey_value(BREAKOUT.ball)
    full = (crop[3] - crop[2]) * 6 * sum(grey_value(c) for _, c in BRICK_ROWS)
    new_wall = (luma[:, 1:] >= NEW_WALL_SHARE * full) & (luma[:, :-1] <= (1 - NEW_WALL_SHARE)
                                                           * full)
    bricks_ok = (np.diff(luma, axis=1) <= BRICK_GROWTH_BALLS * ball) | new_wall
    rates["paddle_ok_rate"] = _rate(track["paddle_ok"])
    rates["bricks_ok_rate"] = _rate(bricks_ok)
    frame_ok[:, 1:] &= bricks_ok
    rates["frames_ok_rate"] = _rate(frame_ok)
    return rates


CHECKS = {"pong": pong_checks, "breakout": breakout_checks}


def object_checks(game: str, frames: np.ndarray, crop: Crop, size: int,
                  reference: np.ndarray | None = None) -> dict[str, float]:
    """`pong_checks` or `breakout_checks` (game "pong" or "breakout") of `frames`
    `[N, T, size, size, C]`; with `reference` (the data's frames, same layout), the same rates
    of the data beside them, each named `<rate>_data`."""
    if game not in CHECKS:
        raise ValueError(f"game must be one of {sorted(CHECKS)}; got {game!r}")
    rates = CHECKS[game](frames, crop, size)
    if reference is not None:
        rates |= {f"{k}_data": v for k, v in CHECKS[game](reference, crop, size).items()}
    return rates
