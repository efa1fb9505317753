"""Source and listener motion between pose updates: velocity, exact Doppler, teleports.

Games set poses at their frame rate (30, 60, 144 Hz, with jitter), not at the audio block
rate (93.75 Hz at 512 frames and 48 kHz). Reading the delay line at the newest pose's
distance made the delay move in steps: a 1 kHz tone passing at 20 m/s alternated between
1000 and 1091 Hz from block to block with 60 Hz poses. So the propagation delay is not
taken from the pose; it is integrated:

* **velocity.** The game may give each source and the listener a velocity
  (``smw_source_set_velocity``): that is the exact path, whatever the pose rate.
  Otherwise it is estimated from the poses as they arrive. Its speed along its heading
  is averaged over :data:`VELOCITY_TIME_S` (over the whole track while it is younger: a
  source created moving is followed at once; decaying to zero when poses stop changing),
  each move counting with its speed along the previous heading. Its heading is the
  newest move's while the body goes onwards (a pose's position is exact, only its time
  is not, so a direction needs no averaging); a move against the heading (a reversal,
  or jitter) slows the estimate on its old heading instead, through rest. Averaging the
  velocity vector instead lagged curves: its heading trailed a 1 rev/s orbit by 62
  degrees, whose radial part swept the delay as if the body were receding. Pitch error
  of a 1 kHz tone against the exact curve, 60 Hz poses (max; ``tests/test_sound.py``,
  ``spatialmw eval``'s orbit row), averaged vector -> now: starting to circle at 2 m and
  1 rev/s 1.57 -> 0.51 % (0.38 % with the velocity given: the ears' own motion about the
  head), a figure of eight 0.62 -> 0.35 %, a 2 m pendulum at 0.5 Hz 0.38 -> 0.39 %, a
  straight pass unchanged, a static source whose position jitters +-1 cm 0.026 -> 0.033 %;
  while orbiting its delay runs 1.0 ms long instead of 3.9 ms.
* **turn.** An estimated track also turns: its turn rate is the angle between the last two
  moves' directions over the time between their middles (averaged over
  :data:`TURN_TIME_S`; a reversal or a jump forgets it), its heading at the pose is the
  newest move's direction turned on by half that move's angle, and positions and
  velocities are extrapolated along the arc, not the tangent. In a straight line, a 30 Hz
  pose's extrapolation left a 2 m, 1 rev/s orbit by up to 4.5 cm, and the delay swung with
  it. Pitch error of that orbit against the tone, p99 / max from 0.1 s (the start
  included; Lite-INN, ``tests/test_sound.py``), straight -> arc: 30 Hz poses 0.72 / 0.78 ->
  0.32 / 0.55 %, 60 Hz 0.43 / 0.51 -> 0.25 / 0.30 %, 144 Hz 0.24 / 0.29 -> 0.19 / 0.26 %;
  straight passes, reversals and a jittering static source are unchanged (a straight
  path's moves do not turn). A given velocity is the caller's word: that track goes
  straight on (an offline caller's :func:`block_pose` relies on it, and a guessed turn
  would move its exact block ends by up to 0.1 m at 4 rev/s). Only a heard source
  estimates its turn (a virtual voice's check touches two lines of its state, and the
  turn lives on a third); one heard again starts straight.
* **pose time.** A pose is where the body is when the game sets it. A game thread sets
  poses at any time between two renders, so the newest pose is on average half a block
  old when the next block starts: the renderer takes it as the position
  :data:`POSE_AGE_BLOCKS` of a block before the start of the next block it renders (its
  observation clock), and the block's start and end positions are extrapolated forward
  from the newest pose with the velocity (at most :data:`MAX_EXTRAPOLATION_S`). Taking a pose as the block's end (as before) made the
  pitch lag the exact curve by one and a half blocks on average (0.04 %/ms of pitch error
  near the closest approach of a 20 m/s pass at 3 m); what remains is the spread of the
  pose's age (+-half a block, unknown to the renderer). An offline caller that knows the
  path (scenes, the evaluation) gives :func:`block_pose`'s pose and velocity: each block
  then runs exactly from the path's position at its start to that at its end, whatever
  the curvature. Orientations are not extrapolated: the warp and the corrector reach the
  newest orientation at the block's end.
* **exact Doppler.** Each block, the delay moves by the change of the retarded delay
  (:func:`retarded_delay`: the time sound emitted by a source moving at constant velocity
  takes to reach where the listener is now) between the block's start and end. That is
  the exact moving-source / moving-listener Doppler shift, not the first-order 1 + v/c
  (13 cents off at 30 m/s), and its slope changes only as fast as the geometry does.
* **drift correction.** The delay is pulled towards the retarded delay of the newest pose
  with time constant :data:`CORRECTION_TIME_S`: pose jitter moves the pitch by well under
  0.1 % at 20 m/s, and no error accumulates.
* **heard position.** The ear cues (the warp's per-ear delays, the corrector's direction,
  the bed's encoding) follow a smoothed relative position (:func:`heard_step`), not the
  extrapolated pose itself. Each new pose's age is only known to +-half a block, so the
  extrapolated position of a source passing at 20 m/s jumped by up to 0.1 m at every pose
  (2 degrees at 3 m): each jump was a step of the corrector's phase, up to 2.5 Hz of
  pitch error on a 1 kHz tone at 60 Hz poses (0.53 % with the warp's own 0.3 %). The heard
  position moves by the extrapolation's own motion over the block and absorbs a
  discrepancy within that half-block band over :data:`CORRECTION_TIME_S`; anything beyond
  the band (a body turning, a velocity that lags an orbit, a teleport) is followed at once.
* **teleports.** A pose that moved faster than 0.9 c since the last one (or a teleport
  request) re-bases the delay instead of sweeping it:
  the delay line keeps reading where it was (nothing is replayed, no chirp), the offset to
  the new distance's delay shrinks at :data:`OFFSET_SLEW` (inaudible, 3.5 cents), and the
  renderer crossfades the old and new ear cues over one block (:mod:`.render`).
"""
import math

from numba import njit

VELOCITY_TIME_S = 0.3       # time constant of the speed estimated from poses (the heading is the newest move's)
STALE_POSE_S = 0.15         # no pose change for this long: the estimate decays to rest
MAX_EXTRAPOLATION_S = 0.1   # positions are extrapolated at most this far past their pose (30 Hz poses with jitter arrive well within it)
CORRECTION_TIME_S = 0.25    # the delay converges to the pose's retarded delay this fast
OFFSET_SLEW = 0.002         # samples per sample: how fast a teleport's delay offset decays
MAX_SPEED_FRACTION = 0.9    # velocities are clamped below the speed of sound; faster jumps are teleports
TURN_TIME_S = 0.1           # time constant of the turn rate estimated from poses (a given velocity does not turn)
POSE_AGE_BLOCKS = 0.5       # a pose's age when the next block starts, in blocks (set at any time between two renders)


def block_pose(start, end, seconds):
    """(pose, velocity) for a caller that knows the path (numbers or arrays): the block
    runs from ``start`` to ``end`` in ``seconds``; the velocity is the chord's, the pose
    the chord's point POSE_AGE_BLOCKS of a block before ``start`` (the renderer moves it on
    from there: the block starts at ``start`` and ends at ``end``)."""
    return start - POSE_AGE_BLOCKS * (end - start), (end - start) / seconds


@njit(cache=True, fastmath=True)
def retarded_delay(ax, ay, az, vx, vy, vz, c):
    """Seconds tau >= 0 with |a - v tau| = c tau: how long ago the sound arriving now left a
    source that is now at ``a`` relative to the listener and moves at constant velocity
    ``v`` (m/s, |v| < c)."""
    a2 = ax * ax + ay * ay + az * az
    av = ax * vx + ay * vy + az * vz
    k = c * c - (vx * vx + vy * vy + vz * vz)
    return (math.sqrt(av * av + k * a2) - av) / k


@njit(cache=True, fastmath=True)
def clamp_speed(vx, vy, vz, c):
    """The velocity scaled down, if needed, below MAX_SPEED_FRACTION of ``c``."""
    v = math.sqrt(vx * vx + vy * vy + vz * vz)
    lim = MAX_SPEED_FRACTION * c
    if v > lim:
        s = lim / v
        return vx * s, vy * s, vz * s
    return vx, vy, vz


TRACK_LEN = 9  # values of a tracked body's state (:func:`start_track`)


@njit(cache=True)
def start_track(state, o, px, py, pz, clock, frames):
    """Start tracking a body (``state[o:o + TRACK_LEN]`` = velocity xyz, observed position
    xyz, pose clock, 1 + the clock the track started at, the estimate's speed along its
    heading) at rest at its first pose, observed at sample ``clock`` before a block of
    ``frames``."""
    t = clock - POSE_AGE_BLOCKS * frames
    rest_track(state, o)
    state[o + 3] = px
    state[o + 4] = py
    state[o + 5] = pz
    state[o + 6] = t
    state[o + 7] = clock + 1.0  # (clock >= 0: never 0, which means not started)


@njit(cache=True, inline="always")
def track_started(state, o):
    """Whether :func:`start_track` has started the body tracked at ``state[o:o + TRACK_LEN]``."""
    return state[o + 7] != 0.0


@njit(cache=True, inline="always")
def rest_track(state, o):
    """The tracked body's velocity (and its estimate's speed) set to rest: a jump says
    nothing about its speed."""
    state[o] = 0.0
    state[o + 1] = 0.0
    state[o + 2] = 0.0
    state[o + 8] = 0.0


TURN_LEN = 4  # values of a tracked body's turn (:func:`track_pose`): its rate xyz, the last move's seconds


@njit(cache=True, inline="always")
def _rotation(ux, uy, uz, vx, vy, vz):
    """The rotation vector (axis times angle, radians) turning unit vector ``u`` onto unit
    vector ``v``: the shortest way, so it is perpendicular to both."""
    cx, cy, cz = uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx
    c = ux * vx + uy * vy + uz * vz
    # the angle is 2 atan(x), x = tan(angle / 2) = |u x v| / (1 + c), x^2 = (1 - c) / (1 + c)
    if c > 0.88:  # (x < 0.254: the series of atan(x) / x to < 1e-8, no square root, no libm call)
        inv = 1.0 / (1.0 + c)
        x2 = (1.0 - c) * inv
        k = 2.0 * (1.0 - x2 * (1.0 / 3.0 - x2 * (0.2 - x2 * (1.0 / 7.0 - x2 * (1.0 / 9.0 - x2 * (1.0 / 11.0)))))) * inv
    else:
        s = math.sqrt(cx * cx + cy * cy + cz * cz)
        if s == 0.0:  # (opposite: no axis; track_pose calls this only for moves onwards)
            return 0.0, 0.0, 0.0
        k = math.atan2(s, c) / s
    return cx * k, cy * k, cz * k


@njit(cache=True, inline="always")
def _arc(vx, vy, vz, wx, wy, wz, ahead):
    """(displacement xyz, velocity xyz) after ``ahead`` seconds of a body moving at ``v``
    while its heading turns at ``w`` (rad/s, perpendicular to ``v``): an arc of a circle,
    a straight line when ``w`` is zero. Its length is |v| ahead whatever ``w``."""
    t2 = (wx * wx + wy * wy + wz * wz) * ahead * ahead  # the angle turned, squared
    if t2 == 0.0:
        return vx * ahead, vy * ahead, vz * ahead, vx, vy, vz
    # with m = w x v: displacement v ahead q + m ahead^2 h, velocity v (1 - t2 h) + m ahead q,
    # q = sin(t) / t, h = (1 - cos(t)) / t^2
    if t2 < 0.25:  # (their series to < 1e-7: no square root, no division, no libm call)
        q = 1.0 - t2 * (1.0 / 6.0) * (1.0 - t2 * (1.0 / 20.0) * (1.0 - t2 * (1.0 / 42.0)))
        h = 0.5 * (1.0 - t2 * (1.0 / 12.0) * (1.0 - t2 * (1.0 / 30.0) * (1.0 - t2 * (1.0 / 56.0))))
    else:
        t = math.sqrt(t2)
        q = math.sin(t) / t
        h = (1.0 - math.cos(t)) / t2
    mx, my, mz = wy * vz - wz * vy, wz * vx - wx * vz, wx * vy - wy * vx
    a, b, c, s = ahead * q, ahead * ahead * h, 1.0 - t2 * h, ahead * q
    return (vx * a + mx * b, vy * a + my * b, vz * a + mz * b,
            vx * c + mx * s, vy * c + my * s, vz * c + mz * s)


@njit(cache=True, inline="always")
def _turn_heading(state, ot, dx, dy, dz, dt, ux, uy, uz, u):
    """The unit heading, at its end, of a move ``d`` over ``dt`` seconds that went onwards
    from heading ``u`` (its length ``u``; 0: none yet): the chord's direction turned on by
    half the move's angle at the body's turn rate. The rate (``state[ot:ot + TURN_LEN]``) is
    updated first from the angle between the last chord (``u`` turned back by the same half
    angle it was turned on) and this one, over the time between their middles."""
    inv = 1.0 / math.sqrt(dx * dx + dy * dy + dz * dz)
    ex, ey, ez = dx * inv, dy * inv, dz * inv
    prev = state[ot + 3]
    if u > 0.0 and prev > 0.0:
        iu = 1.0 / u
        _, _, _, lx, ly, lz = _arc(ux * iu, uy * iu, uz * iu, -state[ot], -state[ot + 1], -state[ot + 2], 0.5 * prev)
        rx, ry, rz = _rotation(lx, ly, lz, ex, ey, ez)
        k = 2.0 / (prev + dt)
        beta = min(1.0, dt * (1.0 / TURN_TIME_S))
        state[ot] += beta * (rx * k - state[ot])
        state[ot + 1] += beta * (ry * k - state[ot + 1])
        state[ot + 2] += beta * (rz * k - state[ot + 2])
    else:
        rest_turn(state, ot)
    state[ot + 3] = dt
    # the rate is perpendicular to the last chord, not quite to this one: its part along
    # this chord is dropped, so the arc stays in the plane the body turns in
    along = state[ot] * ex + state[ot + 1] * ey + state[ot + 2] * ez
    state[ot] -= along * ex
    state[ot + 1] -= along * ey
    state[ot + 2] -= along * ez
    _, _, _, hx, hy, hz = _arc(ex, ey, ez, state[ot], state[ot + 1], state[ot + 2], 0.5 * dt)
    return hx, hy, hz


@njit(cache=True, inline="always")
def rest_turn(state, ot):
    """A tracked body's turn (``state[ot:ot + TURN_LEN]``) forgotten: it goes straight on."""
    state[ot:ot + TURN_LEN] = 0.0


@njit(cache=True, inline="always")
def track_pose(state, o, ot, px, py, pz, clock, frames, sr, auto, c):
    """Update a tracked body (:func:`start_track`) with the pose position it has now,
    observed at sample ``clock`` before a block of ``frames`` (its pose clock: POSE_AGE_BLOCKS
    of a block earlier). With ``auto`` the velocity and its turn rate (``state[ot:ot +
    TURN_LEN]``, not touched when ``ot`` < 0) are estimated from the poses; otherwise the
    caller stores the velocity it gives, and the body goes straight on (no turn). Returns
    True when the pose moved faster than MAX_SPEED_FRACTION of ``c`` (a teleport)."""
    t = clock - POSE_AGE_BLOCKS * frames
    if not auto and ot >= 0:
        rest_turn(state, ot)
    moved = px != state[o + 3] or py != state[o + 4] or pz != state[o + 5]
    # a body whose pose has not changed for STALE_POSE_S was at rest: its next move took
    # at most that long (not the whole time since the last change)
    dt = min((t - state[o + 6]) / sr, STALE_POSE_S)
    jump = False
    if moved:
        if dt > 0.0:
            dx, dy, dz = px - state[o + 3], py - state[o + 4], pz - state[o + 5]
            speed = math.sqrt(dx * dx + dy * dy + dz * dz) / dt
            jump = speed > MAX_SPEED_FRACTION * c
            if auto and not jump:
                # the speed along the heading is averaged (the mean since the track
                # started, until it is VELOCITY_TIME_S long: a body that appears moving is
                # followed from its second pose, not from rest); each move counts with its
                # speed along the previous heading, so a curve keeps its speed and jitter
                # averages out (module docstring)
                since = (clock - state[o + 7] + 1.0) / sr
                beta = min(1.0, dt / min(VELOCITY_TIME_S, since))
                ux, uy, uz, along = state[o], state[o + 1], state[o + 2], state[o + 8]
                u = math.sqrt(ux * ux + uy * uy + uz * uz)
                step = (dx * ux + dy * uy + dz * uz) / (dt * u) if u > 0.0 else speed
                along = max(0.0, along + beta * (step - along))
                state[o + 8] = along
                if step >= 0.0:  # onwards: the newest move's heading, turned on to the pose
                    if ot >= 0:
                        hx, hy, hz = _turn_heading(state, ot, dx, dy, dz, dt, ux, uy, uz, u)
                    else:
                        d = speed * dt
                        hx, hy, hz = dx / d, dy / d, dz / d
                    state[o] = hx * along
                    state[o + 1] = hy * along
                    state[o + 2] = hz * along
                else:  # against the heading (a reversal, or jitter): slowing on it, not turning
                    if ot >= 0:
                        rest_turn(state, ot)
                    state[o] = ux * (along / u)
                    state[o + 1] = uy * (along / u)
                    state[o + 2] = uz * (along / u)
        state[o + 3] = px
        state[o + 4] = py
        state[o + 5] = pz
        state[o + 6] = t
    elif auto and dt > STALE_POSE_S:
        decay = max(0.0, 1.0 - frames / (VELOCITY_TIME_S * sr))
        state[o] *= decay
        state[o + 1] *= decay
        state[o + 2] *= decay
        state[o + 8] *= decay
    if auto and jump:
        rest_track(state, o)
        if ot >= 0:
            rest_turn(state, ot)
    return jump


@njit(cache=True, inline="always")
def extrapolate(state, o, ot, t, sr):
    """(position xyz, velocity xyz) of the tracked body at sample clock ``t`` (after its
    pose clock): along the arc its velocity and turn rate describe (a straight line when
    ``ot`` < 0), at most MAX_EXTRAPOLATION_S past the pose."""
    ahead = min((t - state[o + 6]) / sr, MAX_EXTRAPOLATION_S)
    if ot >= 0:
        wx, wy, wz = state[ot], state[ot + 1], state[ot + 2]
    else:
        wx, wy, wz = 0.0, 0.0, 0.0
    dx, dy, dz, vx, vy, vz = _arc(state[o], state[o + 1], state[o + 2], wx, wy, wz, ahead)
    return state[o + 3] + dx, state[o + 4] + dy, state[o + 5] + dz, vx, vy, vz


@njit(cache=True, fastmath=True)
def heard_step(hx, hy, hz, ax0, ay0, az0, ax1, ay1, az1, frames, sr):
    """The heard position (module docstring) at a block's end, from its value (``h*``) at the
    block's start and the extrapolated position at the block's start (``a*0``) and end
    (``a*1``), all relative to the listener (m)."""
    mx, my, mz = ax1 - ax0, ay1 - ay0, az1 - az0
    band = POSE_AGE_BLOCKS * math.sqrt(mx * mx + my * my + mz * mz)  # a pose's age is known to +-half a block
    ex, ey, ez = ax0 - hx, ay0 - hy, az0 - hz
    e = math.sqrt(ex * ex + ey * ey + ez * ez)
    if e > band:  # beyond what the pose's age explains: followed at once, down to the band
        f = 1.0 - band / e
        hx, hy, hz = hx + f * ex, hy + f * ey, hz + f * ez
        ex, ey, ez = ax0 - hx, ay0 - hy, az0 - hz
    k = min(1.0, frames / (CORRECTION_TIME_S * sr))
    return hx + mx + k * ex, hy + my + k * ey, hz + mz + k * ez


@njit(cache=True)
def propagation_step(d, offset, tau_start, tau_end, frames, sr, teleport):
    """(delay at the block's end, new offset) in samples: the delay ``d`` moves by the
    retarded delay's change over the block and converges towards ``tau_end`` + ``offset``;
    a ``teleport`` re-bases instead."""
    predicted = d + (tau_end - tau_start)
    if teleport:
        offset = predicted - tau_end
    step = min(abs(offset), OFFSET_SLEW * frames)
    offset -= step if offset > 0.0 else -step
    k = min(1.0, frames / (CORRECTION_TIME_S * sr))
    return predicted + k * (tau_end + offset - predicted), offset
