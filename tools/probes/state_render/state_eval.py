"""Score state models open loop over 64 episodes per policy (expert, noisy expert, random; 60 steps stepped past
success), from each episode's true first state: block error at steps 16 and 60, hand error at step 60 (cm) and how
often the task's rule on the final state agrees with the scene's (session 25; ``state_unroll.py``'s scoring).

    python tools/probes/state_render/state_eval.py FIRST_SEED STATE_DIR [STATE_DIR ...]
"""

import sys

import state_unroll as su

from cosmos_sim.world_models.proprio import ProprioModel

first = int(sys.argv[1])
seeds = range(first, first + 64)
goals = su.goals_of(seeds)
episodes = {
    "expert": su.collect("expert", seeds, 60, run_on=True),
    "noisy": su.collect("noisy-expert", seeds, 60, run_on=True, options=su.NOISY),
    "random": su.collect("random", seeds, 60, run_on=True),
}
for path in sys.argv[2:]:
    m = ProprioModel.from_pretrained(path, device="cpu")
    print(path, {k: su.score(m, v, goals) for k, v in episodes.items()}, flush=True)
