"""Captions of GT episodes from their privileged state: what is in the scene and what happens.

An episode is described in two steps, so that prompts, captions and the text benchmark share one grammar:

    env + recorded episode --``episode_facts``--> facts (JSON-able: objects with colour, kind, size, where
        they start in the image, how they move in it; events such as "hits")
    facts --``render_caption``--> {"short": "A purple ball hits a green ball.", "long": "..."}

Directions are those of the image (the ``main`` camera's pixels: "to the right" is +u), measured from the
objects' recorded world positions projected by the episode's camera, so a caption says what the video
shows. Physics scenes (``envs/physics.py``; ``colours="random"`` makes the colour words informative) and
the manipulation push scene are described; ``describe_episode`` returns None for other envs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cosmos_sim.envs.base import project

#: Image displacement (pixels, relative to a 64-px-wide frame) below which an object "stays" on that axis.
MOVE_PX = 4.0
#: Object kind (the caption's noun) of each physics instance name's stem.
KINDS = {"ball": "ball", "block": "block", "domino": "domino", "bob": "ball", "rod": "rod", "box": "box"}
KINDS |= {"sphere": "sphere", "cylinder": "cylinder"}
#: What each physics scenario is called in a caption (the short prompt's scene words).
SCENES = {
    "free_fall": "falling objects",
    "inclined_plane": "a ramp",
    "bounce": "a bouncing ball",
    "collision": "a collision",
    "stack_topple": "a toppling stack",
    "dominoes": "dominoes",
    "pendulum": "a pendulum",
    "projectile": "a launched ball",
    "camera_orbit": "a camera orbit",
    "push": "a robot arm pushing",
}
NUMBERS = ("no", "one", "two", "three", "four", "five", "six")


def _kind(name: str) -> str:
    return KINDS.get(name.split("_")[0], name.split("_")[0])


def _side(u: float, width: int) -> str:
    """Where a pixel column sits in the frame: left, centre (the middle 16 %) or right."""
    return "left" if u < 0.42 * width else "right" if u > 0.58 * width else "centre"


def _direction(du: float, width: int) -> str:
    scale = width / 64.0
    return "right" if du > MOVE_PX * scale else "left" if du < -MOVE_PX * scale else "still"


# ---- facts ---------------------------------------------------------------------------------------
def episode_facts(env: Any, episode: Mapping[str, np.ndarray]) -> dict[str, Any] | None:
    """Facts of a recorded episode (``{key: (T, ...)}`` as ``cosmos_sim.data.generate.rollout`` returns it)
    of the unwrapped GT env that recorded it (after the episode: its colours, camera and parameters);
    None for an env this module does not describe."""
    from cosmos_sim.envs.physics import PhysicsGTEnv

    if isinstance(env, PhysicsGTEnv):
        return _physics_facts(env, episode)
    if hasattr(getattr(env, "config", None), "block_names"):  # the push task (envs/push_task.py)
        return _push_facts(env, episode)
    return None


def _track(env: Any, episode: Mapping[str, np.ndarray], name: str, camera: str) -> np.ndarray:
    """(T, 3) pixel u, v and depth of an object's recorded position in ``camera`` (its pose now: the
    physics cameras are fixed, camera_orbit's objects are described without motion)."""
    cam = env.camera_params(camera)
    return project(episode[f"objects/{name}/pos"], cam.intrinsics, cam.extrinsics)


def _physics_facts(env: Any, episode: Mapping[str, np.ndarray]) -> dict[str, Any]:
    scene, width = env.scenario, env.config.width
    objects = []
    for name in env.coloured_objects:
        uvz = _track(env, episode, name, "main")
        pos = episode[f"objects/{name}/pos"]
        du, dv = uvz[-1, 0] - uvz[0, 0], uvz[-1, 1] - uvz[0, 1]
        objects.append(
            {
                "name": name,
                "kind": _kind(name),
                "colour": env.object_colours[name],
                "start": _side(uvz[0, 0], width),
                "end": _side(uvz[-1, 0], width),
                "motion": "still" if scene == "camera_orbit" else _direction(du, width),
                "falls": bool(scene != "camera_orbit" and pos[0, 2] - pos.min(axis=0)[2] > 0.2 and dv > 0),
                "start_uv": [float(uvz[0, 0]), float(uvz[0, 1])],
                "end_uv": [float(uvz[-1, 0]), float(uvz[-1, 1])],
            }
        )
    by = {o["name"]: o for o in objects}
    events: list[list[str]] = []
    extra: dict[str, Any] = {}
    if scene == "collision":
        b = episode["objects/ball_b/pos"]
        if np.linalg.norm(b[-1, :2] - b[0, :2]) > 0.05:
            events.append(["hits", "ball_a", "ball_b"])
    elif scene == "dominoes":
        n = len(env.coloured_objects)
        fallen = sum(
            float(episode[f"objects/domino_{i}/pos"][-1, 2]) < 0.2 for i in range(n)
        )  # upright centre 0.3 m
        extra["fallen"] = int(fallen)
    elif scene == "stack_topple":
        top = episode["objects/block_3/pos"]
        extra["toppled"] = bool(top[-1, 2] < top[0, 2] - 0.3)
    elif scene == "camera_orbit":
        step = env.physics_params.get("orbit/step_deg", 0.0)
        extra["camera"] = "counterclockwise" if step > 0 else "clockwise"
    elif scene == "free_fall":
        first = min(("ball", "block"), key=lambda n: float(episode[f"objects/{n}/pos"][0, 2]))
        extra["first_down"] = first  # dropped from rest: the lower one lands first
    if scene == "pendulum":
        by["bob"]["motion"] = by["rod"]["motion"] = _swing(env, episode)  # the rod's pixels swing too
    return {"scene": scene, "objects": objects, "events": events, **extra}


def _swing(env: Any, episode: Mapping[str, np.ndarray]) -> str:
    """Which way the bob first swings in the image (towards the centre from where it is released)."""
    uvz = _track(env, episode, "bob", "main")
    du = uvz[min(8, len(uvz) - 1), 0] - uvz[0, 0]
    return "right" if du > 0 else "left"


def _push_facts(env: Any, episode: Mapping[str, np.ndarray]) -> dict[str, Any]:
    cam = env.cameras[0]
    width = env.config.width
    objects = []
    for name in env.config.block_names:
        uvz = _track(env, episode, name, cam)
        objects.append(
            {
                "name": name,
                "kind": "block",
                "colour": name.split("_")[0],
                "start": _side(uvz[0, 0], width),
                "end": _side(uvz[-1, 0], width),
                "motion": _direction(uvz[-1, 0] - uvz[0, 0], width),
                "falls": False,
                "start_uv": [float(uvz[0, 0]), float(uvz[0, 1])],
                "end_uv": [float(uvz[-1, 0]), float(uvz[-1, 1])],
            }
        )
    success = bool(np.asarray(episode.get("is_success", np.zeros(1))).any())
    return {"scene": "push", "objects": objects, "events": [], "reached_goal": success}


# ---- text ----------------------------------------------------------------------------------------
def _np(o: Mapping[str, Any], article: str = "a") -> str:
    """Noun phrase: "a purple ball", "an orange block"."""
    if article == "a" and o["colour"][0] in "aeiou":
        article = "an"
    return f"{article} {o['colour']} {o['kind']}"


def _dir(o: Mapping[str, Any]) -> str:
    return {"left": "to the left", "right": "to the right"}.get(o["motion"], "in place")


def render_caption(facts: Mapping[str, Any]) -> dict[str, str]:
    """The short and long captions of ``episode_facts``' facts (a fixed grammar; the prompt upsampler
    ``cosmos_sim.text.upsampler`` writes long captions with the same function)."""
    scene, objs = facts["scene"], list(facts["objects"])
    by = {o["name"]: o for o in objs}
    start = lambda o: f"on the {o['start']}" if o["start"] != "centre" else "in the centre"  # noqa: E731
    if scene == "free_fall":
        ball, block = by["ball"], by["block"]
        first = by[facts.get("first_down", "ball")]
        short = f"{_np(ball).capitalize()} and {_np(block)} fall to the floor."
        long = (
            f"{_np(ball).capitalize()} {start(ball)} and {_np(block)} {start(block)} are dropped side by side. "
            f"Both fall to the floor; the {first['colour']} {first['kind']} lands first, the {ball['colour']} ball "
            f"bounces and the {block['colour']} block tumbles."
        )
    elif scene == "inclined_plane":
        ball, block = by["ball"], by["block"]
        short = f"{_np(ball).capitalize()} and {_np(block)} move down a ramp {_dir(ball)}."
        long = (
            f"On a grey ramp, {_np(ball)} rolls and {_np(block)} slides down the slope {_dir(ball)}. "
            f"The {ball['colour']} ball starts higher {start(ball)} and the {block['colour']} block below it; "
            "both stop at the kerb at the bottom."
        )
    elif scene == "bounce":
        ball = by["ball"]
        short = f"{_np(ball).capitalize()} bounces {_dir(ball)}."
        long = (
            f"{_np(ball).capitalize()} is dropped {start(ball)} and bounces across the grey floor {_dir(ball)}, "
            "each bounce lower than the one before."
        )
    elif scene == "collision":
        a, b = by["ball_a"], by["ball_b"]
        hit = bool(facts["events"])
        short = f"{_np(a).capitalize()} {'hits' if hit else 'rolls towards'} {_np(b)}."
        long = f"{_np(a).capitalize()} starts {start(a)} and rolls {_dir(a)} across the grey floor. " + (
            f"It hits {_np(b)} resting {start(b)}, which is knocked {_dir(b)}."
            if hit
            else f"It rolls towards {_np(b)} resting {start(b)}."
        )
    elif scene == "stack_topple":
        colours = ", ".join(o["colour"] for o in objs)
        way = _dir(by["block_3"])
        short = f"A stack of {NUMBERS[len(objs)]} blocks topples {way}."
        long = (
            f"A staircase stack of {NUMBERS[len(objs)]} blocks, {colours} from bottom to top, leans "
            f"{way} and {'topples' if facts.get('toppled', True) else 'wobbles'}; the blocks fall to the floor {way}."
        )
    elif scene == "dominoes":
        colours = ", ".join(o["colour"] for o in objs)
        fallen = facts.get("fallen", len(objs))
        short = f"A row of {NUMBERS[len(objs)]} dominoes falls {_dir(objs[0])}."
        long = (
            f"A row of {NUMBERS[len(objs)]} dominoes stands on the grey floor, {colours} from left to right. "
            f"The {objs[0]['colour']} domino is pushed and {NUMBERS[min(fallen, 6)]} dominoes fall one after "
            f"another {_dir(objs[0])}."
        )
    elif scene == "pendulum":
        bob, rod = by["bob"], by["rod"]
        short = f"{_np(bob).capitalize()} on {_np(rod)} swings {_dir(bob)}."
        long = (
            f"{_np(bob).capitalize()} hangs on {_np(rod)} from a grey bar. It is released {start(bob)} and "
            f"swings {_dir(bob)} and back like a pendulum."
        )
    elif scene == "projectile":
        ball = by["ball"]
        short = f"{_np(ball).capitalize()} is launched {_dir(ball)}."
        long = (
            f"{_np(ball).capitalize()} is launched from the floor {start(ball)}, flies up in an arc {_dir(ball)}, "
            "lands and rolls to a stop."
        )
    elif scene == "camera_orbit":
        names = ", ".join(_np(o) for o in objs[:-1]) + f" and {_np(objs[-1])}"
        short = f"The camera circles around {NUMBERS[len(objs)]} objects."
        long = (
            f"A still scene on a checker floor: {names}. The camera circles "
            f"{facts.get('camera', 'clockwise')} around them."
        )
    elif scene == "push":
        block = objs[0] if objs else {"colour": "red", "kind": "block", "motion": "still"}
        done = facts.get("reached_goal", False)
        short = f"The robot arm pushes {_np(block, 'the')} to the green disc."
        long = f"A robot arm on a table pushes {_np(block, 'the')} {_dir(block)} towards the green disc; " + (
            "the block reaches the disc." if done else "the block does not reach the disc."
        )
    else:
        raise ValueError(f"no caption grammar for scene {scene!r}; known: {sorted(SCENES)}")
    return {"short": short, "long": long}


def describe_episode(env: Any, episode: Mapping[str, np.ndarray]) -> dict[str, Any] | None:
    """``{"short", "long", "facts"}`` of a recorded episode, or None for an env without captions."""
    facts = episode_facts(getattr(env, "unwrapped", env), episode)
    if facts is None:
        return None
    return {**render_caption(facts), "facts": facts}


__all__ = ["KINDS", "MOVE_PX", "SCENES", "describe_episode", "episode_facts", "render_caption"]
