"""The parts a model is made of: the backbone face and its facts, head specs, configs and modules, pooling, word pooling, config helpers and random batches."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    'Backbone': '.backbone',
    'BackboneFacts': '.backbone',
    'BackboneOutput': '.backbone',
    'CAPABILITIES': '.backbone',
    'FIRST_ORDINARY_ID': '.dummy',
    'HFEquivalent': '.head',
    'Head': '.head_module',
    'HeadConfig': '.head',
    'HeadOutput': '.head_module',
    'HeadSpec': '.head',
    'SEQUENCE_POOLINGS': '.head',
    'T': '.configs',
    'TransformersBackbone': '.backbone',
    'WORD_POOLING_MODES': '.word_pooling',
    'check_word_pooling': '.word_pooling',
    'config_from_dict': '.configs',
    'config_to_dict': '.configs',
    'did_you_mean': '.configs',
    'dummy_batch': '.dummy',
    'needs_of': '.head',
    'non_negative': '.configs',
    'one_of': '.configs',
    'pool_sequence': '.head_module',
    'pool_words': '.word_pooling',
    'positive': '.configs',
    'probability': '.configs',
    'word_ids_from_spans': '.word_pooling',
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, globals())
