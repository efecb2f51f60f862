#!/usr/bin/env bash
# Fig. 6 of the dual-level paper (Pu et al., 2022, Sec. 4.4.4): DualLevelAUCNet on Celeb-10, -20 and
# -30, one run per AUC-loss margin gamma, each trained (model selection on FF++ validation) and
# then tested once; results/<run>.json per run, the run named after subset and gamma.
#
# The paper sweeps gamma from 0.0 to 1.0 in steps of 0.1; eq. 3 requires 0 < gamma <= 1 and
# losses.AUCLoss refuses 0, so the sweep starts at 0.1.
#
# Usage: experiments/dual_level/gamma_sweep.sh [extra lightning arguments...]
#   e.g. SUBSETS="celeb_30" GAMMAS="0.1 0.15 0.2" experiments/dual_level/gamma_sweep.sh --trainer.devices=1
set -euo pipefail

SUBSETS=${SUBSETS:-"celeb_10 celeb_20 celeb_30"}
GAMMAS=${GAMMAS:-"0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 1.0"}
LIGHTNING=${LIGHTNING:-lightning}

for subset in $SUBSETS; do
  for gamma in $GAMMAS; do
    args=(
      --config experiments/dual_level.yaml
      --config "experiments/dual_level/${subset}.yaml"
      --model.init_args.gamma="$gamma"
      --run_name "dual_level-${subset}-gamma${gamma}"
      "$@"
    )
    "$LIGHTNING" fit "${args[@]}"
    "$LIGHTNING" test "${args[@]}" --ckpt_path best
  done
done
