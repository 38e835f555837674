"""`python -m train`: train a model on a workspace's labels (DPO family, KTO, SimPO/CPO, ORPO, SPIN, sDPO, RM) or on
its gold answers and labellers' edits (SFT).

python -m train -w ws --model smollm2-135m --method dpo                  # labelled pairs -> ws/runs/dpo-*
python -m train -w ws --method dpop --dpop-lambda 50 --out ws/runs/dpop  # a relative --out: from here, not ws
python -m train -w ws --method dpo --agreement weight                      # use labeller (dis)agreement
python -m train -w ws --method kto --lora-r 16
python -m train -w ws --method odpo --odpo-alpha 0.5                    # margin from the labels' strength
python -m train -w ws --method tdpo2 --tdpo-alpha 0.5                   # token-level KL, reference in memory
python -m train -w ws --method sft --sft-from gold,edits                # gold answers + edits, loss on the answer
python -m train -w ws --method sdpo --out ws/runs/sdpo                # one step per round -> ws/runs/sdpo/step-K
python -m train -w ws --config run.yaml --learning-rate 1e-6              # YAML + overriding flags
python -m train -w ws --model newest --method dpo --rounds 1               # next human round: newest model, round 1's labels
python -m train score -w ws                  # score unlabelled pairs with the newest model (annotate --order uncertainty)
accelerate launch --config_file configs/accelerate/ddp.yaml -m train -w ws --method dpo --out ws/runs/dpo-ddp  # GPUs
"""

from __future__ import annotations

import argparse
import logging
import sys

from data.cli import check_applies, explicit_names, options_parser, run_cli
from data.config import build
from train.methods import METHODS, get_method, method_options
from train.options import TrainOptions, check_given
from train.report import summary_lines


def build_parser(prog: str = "python -m train") -> argparse.ArgumentParser:
    """Options every method reads first, then each method's own in a group of its own."""
    methods = "\n".join(f"  {name:6} {method.help}" for name, method in METHODS.items())
    groups = {name: f"options of --method {', '.join(m)}" for name, m in method_options().items()}
    parser = options_parser(TrainOptions, prog, __doc__, groups=groups)
    parser.epilog += "\nmethods:\n" + methods
    return parser


def _with_sibling(parser, sibling):
    """An unknown flag that is the other command's names it ("--method is an option of python -m train, not
    python -m train score"), rather than the nearest flag of this one."""
    parser.siblings = {sibling.prog: sibling}
    return parser


def parse_train_options(argv: list[str], prog: str = "python -m train") -> TrainOptions:
    """The options object; a method-specific option set (by flag or YAML) for another method is an error."""
    namespace = _with_sibling(build_parser(prog), build_score_parser(prog)).parse_args(argv)
    options = build(TrainOptions, namespace)
    explicit = explicit_names(namespace)
    get_method(options.method)  # a method that is none: said so, not which method the options given belong to
    check_applies(explicit, options.method, method_options(), "--method")
    check_given(options, explicit)
    return options


def build_score_parser(prog: str = "python -m train") -> argparse.ArgumentParser:
    from train import score

    return options_parser(score.ScoreOptions, f"{prog} score", score.__doc__)


def score_main(argv: list[str], prog: str = "python -m train") -> int:
    from train.score import ScoreOptions, score_pairs

    parser = _with_sibling(build_score_parser(prog), build_parser(prog))
    counts = score_pairs(build(ScoreOptions, parser.parse_args(argv)))
    reference = counts["reference"] or "none (own likelihoods)"
    if not counts[
        "pairs"
    ]:  # a rerun (the pairs it would score have this model's scores), or no pair to score
        already = counts["already_scored"]
        why = (
            f"all {already} unlabelled pairs have their score from this model"
            if already
            else "no unlabelled pair" + ("" if counts["rounds"] is None else " of the rounds given")
        )
        print(f"model {counts['model']}: nothing to score ({why})")
        return 0
    kept = f"; {counts['already_scored']} scored before, kept" if counts["already_scored"] else ""
    kept += f"; {counts['beyond_limit']} left by --limit" if counts["beyond_limit"] else ""
    print(
        f"model {counts['model']} (reference {reference}): scored {counts['scored']} of {counts['pairs']} pairs{kept}"
    )
    for line in rescored_lines(counts):
        print(line)
    if counts.get("other_template_only"):  # (`--limit`, `--rounds`) what the order makes of the rest
        print(
            f"--order uncertainty: {counts['by_margin']} unlabelled pairs have this model's scores rendered with "
            f"{counts['chat_template']}, handed out by |margin|; {counts['other_template_only']} have its scores "
            "of another (or an unrecorded) template only, which the order leaves out: they go after them, in "
            "round order (score them with this template too to order them)"
        )
    return 0


def rescored_lines(counts: dict) -> list[str]:
    """What `train score` said of the pairs it scored again: this model's scores of them were rendered with another
    chat template than this run's (replaced), or written before the template was recorded (an unknown rendering)."""
    lines = []
    if counts["other_template"]:
        lines.append(
            f"{counts['other_template']} of them scored again: this model's scores were rendered with another chat "
            f"template than this run's ({counts['chat_template']}); the new scores replace them for --order "
            "uncertainty"
        )
    if counts["unknown_template"]:
        lines.append(
            f"{counts['unknown_template']} of them scored again: this model's scores were written by an earlier "
            "version, which recorded no chat template (one rendered the reference with its own template: a wrong "
            "margin where it has another); the new scores replace them for --order uncertainty"
        )
    return lines


def _main(argv: list[str] | None, prog: str) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if argv and argv[0] == "score":
        return score_main(argv[1:], prog)
    options = parse_train_options(argv, prog)
    from train.run import train

    result = train(options)
    if result["id"] is None:  # a non-main rank of `accelerate launch`
        return 0
    # the id of a run not registered is in its report alone: no --model or --arena finds the model by it
    unlisted = (
        "" if options.register else " (--no-register: not in the workspace's manifest; name it by its folder)"
    )
    print(f"model {result['id']} saved to {result['path']}{unlisted}")
    for line in summary_lines(result["method"], result["metrics"]):
        print(line)
    return 0


def main(argv: list[str] | None = None, prog: str = "python -m train") -> int:
    return run_cli(lambda args: _main(args, prog), argv)


if __name__ == "__main__":
    sys.exit(main())
