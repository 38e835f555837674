"""What a model folder's weights index says it holds: each ``*.index.json`` (``model.safetensors.index.json``,
``pytorch_model.bin.index.json``) maps every weight to the shard file that holds it. A folder short of a shard, or
a shard short of a weight the index puts there, loads in vLLM as its error (a missing shard) or not at all in the
way its config says; `data.provision.check_model_parts` refuses it first, from the files' headers (no weights load).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from data.errors import counted


def indexed_shards(folder: Path) -> dict[str, dict[str, list[str]]]:
    """Each weights index of ``folder`` by its file name: the shards it names, each with the weights it maps there.
    An index that does not read as one raises ValueError naming it."""
    indexes = {}
    for index in sorted(folder.glob("*.index.json")):
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map")
            if not isinstance(weight_map, dict):
                raise ValueError("no weight_map")
        except (OSError, ValueError, AttributeError) as exc:
            raise ValueError(f"{index.name} does not read as a weights index ({exc})") from None
        shards = defaultdict(list)
        for weight, shard in weight_map.items():
            shards[str(shard)].append(weight)
        indexes[index.name] = dict(shards)
    return indexes


def loaded_indexes(folder: Path) -> dict[str, dict[str, list[str]]]:
    """`indexed_shards` of the weights the loaders read: where ``folder`` holds a ``.safetensors`` file, only the
    indexes of safetensors shards (transformers and vLLM then read no ``.bin`` file). A hub repo with both formats,
    fetched without its ``.bin`` files (`data.provision.HUB_FILES`), keeps a pytorch_model.bin.index.json naming
    shards that are not there, and loads."""
    indexes = indexed_shards(folder)
    if not any(folder.glob("*.safetensors")):
        return indexes
    return {
        name: shards
        for name, shards in indexes.items()
        if all(shard.endswith(".safetensors") for shard in shards)
    }


def missing_from_index(folder: Path, headers: dict[str, set[str]]) -> str | None:
    """The first way ``folder`` falls short of the weights indexes its loaders read (`loaded_indexes`), as the end of one line: a
    shard an index names that is not there, or weights it maps to a ``.safetensors`` shard whose header lacks them
    (``headers``: each such file's weight names, by file name). None where it holds them all."""
    try:
        indexes = loaded_indexes(folder)
    except ValueError as exc:
        return str(exc)
    for index, shards in indexes.items():
        for shard, weights in sorted(shards.items()):
            if not (folder / shard).is_file():
                return f"{shard} missing ({index} names it for {counted(len(weights), 'weight')})"
            lacking = sorted(set(weights) - headers[shard]) if shard in headers else []
            if lacking:
                return (
                    f"{shard} lacks {counted(len(lacking), 'weight')} {index} maps to it, e.g. {lacking[0]}"
                )
    return None
