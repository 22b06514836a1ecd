from pathlib import Path

import pytest

from tunesmith.config import Config, load_config
from tunesmith.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "tunesmith.yaml"
    p.write_text(text)
    return p


def test_misspelled_section_names_key_line_and_suggestion(tmp_path):
    p = write(tmp_path, "project:\n  name: x\ntrian:\n  epochs: 2\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert "unknown key 'trian'" in e.value.message
    assert e.value.line == 3
    assert "did you mean 'train'?" in e.value.hint


def test_misspelled_nested_key(tmp_path):
    p = write(tmp_path, "train:\n  method: lora\n  lerning_rate: 0.001\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert "'lerning_rate'" in e.value.message and "section 'train'" in e.value.message
    assert e.value.line == 3
    assert "did you mean 'learning_rate'?" in e.value.hint


def test_bad_value_points_at_line(tmp_path):
    p = write(tmp_path, "train:\n  method: lora\n  batch_size: -3\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert "train.batch_size" in e.value.message and e.value.line == 3


def test_overrides_and_relative_paths(tmp_path):
    p = write(tmp_path, "data:\n  paths: [data/a.jsonl]\n")
    cfg = load_config(p, ["train.epochs=2", "train.lora.r=4", "eval.arms=[base, fine_tuned]"])
    assert cfg.train.epochs == 2 and cfg.train.lora.r == 4 and cfg.eval.arms == ["base", "fine_tuned"]
    assert cfg.path(cfg.data.paths[0]) == tmp_path / "data" / "a.jsonl"
    assert cfg.stage_dir("train") == tmp_path / "artifacts" / "train"


def test_split_must_sum_to_one(tmp_path):
    with pytest.raises(ConfigError, match="add up to 1"):
        load_config(write(tmp_path, "data:\n  split: {train: 0.5, val: 0.1, test: 0.1}\n"))


def test_python_api_is_the_same_classes():
    cfg = Config(train={"method": "dora", "epochs": 1})
    assert cfg.train.method == "dora" and cfg.eval.reference_arm == "base"


def test_example_configs_are_valid():
    example = Path(__file__).parents[1] / "examples" / "support-desk"
    real = load_config(example / "tunesmith.yaml")
    assert real.data.paths and real.model.get == "smollm2-135m-instruct" and real.model.tiny is None
    tiny = load_config(example / "tunesmith-tiny.yaml")
    assert tiny.model.tiny is not None and tiny.model.get is None


def test_model_tiny_and_get_are_exclusive(tmp_path):
    with pytest.raises(ConfigError, match="not both"):
        load_config(write(tmp_path, "model:\n  tiny: {size: xs}\n  get: smollm2-135m-instruct\n"))


def config_keys(model=Config, prefix=""):
    from pydantic import BaseModel

    for name, field in model.model_fields.items():
        if name == "root":
            continue
        key = f"{prefix}{name}"
        ann = field.annotation
        sub = next(
            (c for c in [ann, *getattr(ann, "__args__", ())] if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
        if sub is None:
            yield key
        elif sub is not None:
            yield from config_keys(sub, key + ".")


def test_readme_documents_every_config_key():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    missing = [k for k in config_keys() if f"`{k}`" not in readme]
    assert not missing, f"README.md does not document: {missing}"


def test_format_typo_exits_2_with_the_line_and_the_nearest_name(tmp_path, capsys):
    from tunesmith.cli.main import main

    p = write(tmp_path, "project:\n  name: x\ndata:\n  paths: [a.jsonl]\n  format: sharegtp\n")
    assert main(["run", str(p), "--only", "check"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"{p}:5:" in err and "'data.format'" in err and "'sharegtp'" in err
    assert "did you mean 'sharegpt'?" in err


@pytest.mark.parametrize(
    ("yaml_text", "line", "nearest"),
    [
        ("train:\n  method: LoRA\n", 2, "lora"),
        ("data:\n  pii: redcat\n", 2, "redact"),
        ("data:\n  dedup: nera\n", 2, "near"),
        ("train:\n  report_to: [tensorbord]\n", 2, "tensorboard"),
        ("eval:\n  reference_arm: bsae\n", 2, "base"),
        ("eval:\n  arms:\n    - base\n    - fine_tunde\n", 4, "fine_tuned"),
        ("eval:\n  judge: {base_url: u, model: m, arm: fine_tunde}\n", 2, "fine_tuned"),
        ("eval:\n  prices:\n    fine_tunde: {per_hour: 1}\n", 3, "fine_tuned"),
        ("model:\n  get: smollm2\n", 2, "smollm2-135m-instruct"),
        ("train:\n  dpo:\n    loss_type: ipoo\n", 3, "ipo"),
    ],
)
def test_every_closed_set_of_names_fails_at_load_with_the_nearest(tmp_path, yaml_text, line, nearest):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, yaml_text))
    assert e.value.line == line and f"did you mean '{nearest}'?" in e.value.hint
    assert e.value.exit_code == 2


def test_a_name_with_nothing_close_lists_the_valid_ones(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "data:\n  format: xml\n"))
    assert "did you mean" not in e.value.hint
    assert "messages, prompt_completion, alpaca, sharegpt" in e.value.hint


def test_the_closed_sets_are_the_ones_the_code_knows():
    """Each closed set is declared once; where another module keeps the same names, they must agree."""
    from typing import get_args

    from tunesmith.config import ARMS, DataConfig, ModelConfig, TinyModelConfig, literal_choices
    from tunesmith.evals.arms import ARM_DESCRIPTIONS
    from tunesmith.models import tiny
    from tunesmith.models.named import NAMED_MODELS
    from tunesmith.records import FORMATS

    assert literal_choices(DataConfig.model_fields["format"].annotation) == FORMATS
    assert set(ARMS) == set(ARM_DESCRIPTIONS)
    assert literal_choices(ModelConfig.model_fields["get"].annotation) == tuple(NAMED_MODELS)
    assert literal_choices(TinyModelConfig.model_fields["size"].annotation) == get_args(tiny.Size)


# ------------------------------------------------------------------------------------------------------------------
# Each default of the data and train sections is declared once, in the config package

SRC = Path(__file__).parents[1] / "src" / "tunesmith"
# Constants that equal a default by coincidence, or copy a default of a section this test does not cover: each with
# the reason it is not a second declaration of a data or train setting. A new entry needs as good a reason.
NOT_COPIES = {
    ("data/pii.py", "PARALLEL_MIN_TEXTS"): "the distinct texts from which spaCy runs in worker processes",
    ("data/stats.py", "DISTINCT_SAMPLE"): "the fixed distinct-n sample that keeps one threshold meaningful",
    ("data/augment.py", "batch_size"): "the generation batch of `data add-refusals --generate`",
    ("serve/engine.py", "batch_size"): "the engine's batch (serve.batch_size), not train.batch_size",
    ("registry.py", "backend"): "a run recorded before vendor backends existed was trained locally",
    ("manifests.py", "backend"): "a train manifest written before vendor backends existed was trained locally",
    ("data/pii.py", "LOCAL_PHONE_SCORE"): "Presidio's base score of a context-less local number, not a warm-up ratio",
    ("evals/verdict.py", "ABSTENTION_FLOOR"): "the abstention below which the verdict advises more refusals",
    ("ui/review.py", "max_length"): "the longest password the login accepts, not a sequence length",
    ("plots.py", "width"): "the share of a bar group's slot the bars fill, not a split or a threshold",
    ("init.py", "min_gain"): "the ROUGE-L gain `tunesmith init` asks of the fine-tune, not a warm-up ratio",
    ("data/near_domain.py", "limit"): "word overlap at which a generated question is too close, not a language score",
    ("data/split.py", "MAX_TEST_SHARE_OF_TAG"): "the share of a tag test may take, not a language score",
    ("monitor/report.py", "width"): "a bar's width in the topic plot, not a language score",
    ("generate/prompts.py", "pii"): "prompts leave the machine redacted whatever data.pii keeps (pseudonymize too)",
}


def section_defaults():
    """(dotted key, field name, default) of every non-trivial scalar default of the data and train sections."""
    from tunesmith.config import DataConfig, TrainConfig, _model_in

    def walk(model, prefix):
        for name, field in model.model_fields.items():
            sub = _model_in(field.annotation)
            if sub is not None:
                yield from walk(sub, f"{prefix}{name}.")
                continue
            default = field.get_default(call_default_factory=True)
            trivial = isinstance(default, bool) or default is None or default in (0, 1, "")
            if not trivial and isinstance(default, int | float | str):
                yield f"{prefix}{name}", name, default

    return [*walk(DataConfig, "data."), *walk(TrainConfig, "train.")]


def distinctive(value) -> bool:
    """A number unlikely to be typed for another reason: >= 100, or a fraction other than 0.1 and 0.5."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return abs(value) >= 100 or (value != int(value) and value not in (0.1, 0.5))


def bindings(tree):
    """(name, value node) of every place a constant can be a default: parameter defaults, keyword arguments,
    assignments (module constants, dataclass fields) and dict entries."""
    import ast

    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            a = node.args
            positional = a.posonlyargs + a.args
            yield from zip((x.arg for x in positional[len(positional) - len(a.defaults) :]), a.defaults, strict=True)
            yield from ((x.arg, d) for x, d in zip(a.kwonlyargs, a.kw_defaults, strict=True) if d is not None)
        elif isinstance(node, ast.Call):
            yield from ((k.arg, k.value) for k in node.keywords if k.arg)
        elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                name = t.id if isinstance(t, ast.Name) else t.attr if isinstance(t, ast.Attribute) else None
                if name:
                    yield name, node.value
        elif isinstance(node, ast.Dict):
            pairs = zip(node.keys, node.values, strict=True)
            yield from ((k.value, v) for k, v in pairs if isinstance(k, ast.Constant))


def copies_of_defaults(source: str, defaults):
    """(line, name, value, key): a constant bound to a field's name with its default, or a distinctive number
    equal to a default, wherever it is bound."""
    import ast

    found = []
    for name, node in bindings(ast.parse(source)):
        if not (isinstance(node, ast.Constant) and not isinstance(node.value, bool)):
            continue
        for key, field, default in defaults:
            same = type(node.value) is type(default) or {type(node.value), type(default)} <= {int, float}
            if same and node.value == default and (str(name).lower() == field or distinctive(default)):
                found.append((node.lineno, str(name), node.value, key))
    return found


def test_the_copy_finder_finds_copies():
    defaults = [("data.near_dup_threshold", "near_dup_threshold", 0.8), ("data.pii_name_sample", "x", 5000)]
    source = "def f(near_dup_threshold=0.8):\n    g(near_dup_threshold=0.8)\nCHECK_NAME_SAMPLE = 5_000\nY = 0.7\n"
    assert sorted(line for line, *_ in copies_of_defaults(source, defaults)) == [1, 2, 3]


def test_each_data_and_train_default_is_declared_once_in_config_py():
    """A default copied into a stage function, a CLI option or a module constant drifts from the section's
    (data.max_seq_len's 2048 was once written five times): stage functions take the section instead."""
    defaults = section_defaults()
    assert {"data.near_dup_threshold", "data.split.train", "train.lora.r"} <= {k for k, _, _ in defaults}
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("config/"):
            continue
        for line, name, value, key in copies_of_defaults(path.read_text(encoding="utf-8"), defaults):
            if (rel, name) not in NOT_COPIES:
                found.append(f"{rel}:{line}: {name} = {value!r} copies {key}")
    assert not found, "read these from the section instead:\n" + "\n".join(found)
    stale = [k for k in NOT_COPIES if not (SRC / k[0]).is_file() or k[1] not in (SRC / k[0]).read_text()]
    assert not stale, f"NOT_COPIES entries that no longer exist: {stale}"


def test_one_sequence_length_for_check_prepare_and_training(tmp_path):
    """train.max_seq_len is the only length: the data check and prepare read it (data.max_seq_len is gone, with
    an error that says where it went)."""
    from tunesmith.config import DataConfig

    assert "max_seq_len" not in DataConfig.model_fields
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "data:\n  paths: []\n  max_seq_len: 2048\n"))
    assert e.value.line == 3 and "'data.max_seq_len' is now train.max_seq_len" in e.value.message


def test_readme_config_table_is_generated_from_the_fields():
    """The README's table is `python -m tunesmith.config --markdown`: a field added or changed without
    `python -m tunesmith.config --write README.md` fails here."""
    from tunesmith.config import TABLE_COMMAND, _with_table, markdown_table

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert _with_table(readme) == readme, f"README.md's configuration table is stale: run `{TABLE_COMMAND}`"
    table = markdown_table()
    assert "| `data.format` | unset |" in table and "| `train.max_seq_len` | `1024` |" in table
    assert "| `eval.endpoint.base_url` | required |" in table and "PydanticUndefined" not in table


def test_config_markdown_command(capsys, tmp_path):
    from tunesmith.config import TABLE_END, TABLE_START, main, markdown_table

    assert main(["--markdown"]) == 0 and capsys.readouterr().out == markdown_table()
    doc = tmp_path / "README.md"
    doc.write_text(f"intro\n{TABLE_START} -->\nold\n{TABLE_END}\nend\n")
    assert main(["--write", str(doc)]) == 0
    assert doc.read_text() == f"intro\n{TABLE_START} -->\n{markdown_table()}{TABLE_END}\nend\n"


def test_a_bare_off_in_yaml_means_off(tmp_path):
    """YAML 1.1 reads `pii: off` as false; the closed sets with an "off" take it as "off"."""
    cfg = load_config(write(tmp_path, "data:\n  pii: off\n  dedup: off\n"))
    assert cfg.data.pii == "off" and cfg.data.dedup == "off"


# ------------------------------------------------------------------------------------------------------------------
# Rules between fields fail at load, with the line, instead of after training or after every arm has generated


@pytest.mark.parametrize(
    ("yaml_text", "line", "message"),
    [
        (
            'eval:\n  arms: [base, fine_tuned]\n  gates:\n    - "fine_tuned.rougeL >= 0"\n'
            '    - "fine_tuned.rougeL is good"\n',
            5,
            "cannot parse gate 'fine_tuned.rougeL is good'",
        ),
        (
            'eval:\n  arms: [base, fine_tuned]\n  gates: ["rag.rougeL >= base.rougeL"]\n',
            3,
            "gate 'rag.rougeL >= base.rougeL': no arm 'rag' in eval.arms",
        ),
        ('eval:\n  arms: [base, fine_tuned]\n  gates: ["fine_tuned.rougeL >= rag.rougeL + 0.1"]\n', 3, "no arm 'rag'"),
        (
            "eval:\n  arms: [retrieval, fine_tuned]\n  reference_arm: base\n",
            3,
            "eval.reference_arm 'base' is not one of eval.arms",
        ),
        ("eval:\n  arms: [fine_tuned]\n", 2, "eval.reference_arm 'base' is not one of eval.arms"),
        ("eval:\n  arms:\n    - base\n    - endpoint\n", 4, "the endpoint arm needs eval.endpoint"),
        (
            "eval:\n  arms: [base]\n  prices:\n    base: {per_hour: 1}\n    fine_tuned: {per_hour: 2}\n",
            5,
            "eval.prices names arm(s) ['fine_tuned'] that are not in eval.arms",
        ),
        (
            "eval:\n  arms: [base]\n  judge:\n    base_url: u\n    model: m\n    arm: fine_tuned\n",
            6,
            "eval.judge.arm 'fine_tuned' is not one of eval.arms",
        ),
        ("eval:\n  arms: [base]\n  judge: {base_url: u, model: m}\n", 3, "eval.judge.arm 'fine_tuned' is not one"),
        ("eval:\n  arms:\n    - base\n    - sft\n", 4, "the sft arm is the SFT run a DPO run started from"),
        (
            "train:\n  objective: dpo\n  init_from: runs/sft\n  backend: openai\neval:\n  arms: [base, sft]\n",
            6,
            "the sft arm runs a local SFT run",
        ),
    ],
)
def test_rules_between_fields_fail_at_load_with_the_line(tmp_path, yaml_text, line, message):
    p = write(tmp_path, yaml_text)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert message in e.value.message and e.value.hint
    assert e.value.file == str(p) and e.value.line == line and e.value.exit_code == 2


def test_a_gate_typo_exits_2_with_the_line_before_any_work(tmp_path, capsys):
    from tunesmith.cli.main import main

    p = write(tmp_path, 'data:\n  paths: [a.jsonl]\neval:\n  gates: ["fine_tuned.rougeL => 0.3"]\n')
    assert main(["run", str(p), "--only", "check"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"{p}:4:" in err and "cannot parse gate" in err and "fine_tuned.rougeL >= base.rougeL + 0.05" in err


def test_rules_between_fields_accept_a_consistent_config(tmp_path):
    cfg = load_config(
        write(
            tmp_path,
            "train:\n  objective: dpo\n  init_from: runs/sft\neval:\n  arms: [sft, fine_tuned]\n  reference_arm: sft\n"
            '  gates: ["fine_tuned.rougeL >= sft.rougeL - 0.05", "fine_tuned.over_refusal <= 0.2"]\n'
            "  prices: {fine_tuned: {per_hour: 1}}\n  judge: {base_url: u, model: m}\n",
        )
    )
    assert cfg.eval.gates == ["fine_tuned.rougeL >= sft.rougeL - 0.05", "fine_tuned.over_refusal <= 0.2"]


def test_a_parsed_gate_is_typed():
    from tunesmith.config import Gate, MetricRef, parse_gate

    assert parse_gate(" fine_tuned.rougeL >= base.rougeL - 0.05 ") == Gate(
        MetricRef("fine_tuned", "rougeL"), ">=", MetricRef("base", "rougeL"), -0.05
    )
    assert parse_gate("base.bleu < 0.3").right == 0.3 and parse_gate("base.bleu < 0.3").arms == ["base"]
    with pytest.raises(ConfigError, match="cannot parse gate"):
        parse_gate("base.bleu is low")
