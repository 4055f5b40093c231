"""archit: any task head on any transformer backbone, from separately installed plugins.

``import archit_core`` imports neither torch nor transformers: every public name below is imported from its module
on first use. The subpackages mirror the design (docs/design.md): ``registry`` (plugins), ``parts`` (backbone and
head contracts), ``model``, ``multitask``, ``checkpoints``, ``generic``, ``declaration``, ``rewrites``, ``specs``,
``cli`` and ``testing``.
"""

from __future__ import annotations

from ._lazy import lazy_exports
from ._moved import install as _install_moved
from .model import auto as _auto_classes

__version__ = "0.1.0"

#: Every public name of archit_core and the module that defines it: the one source of ``__all__``.
_EXPORTS = {
    'ArchitError': '.errors',
    'ArchitPluginWarning': '.errors',
    'CheckpointError': '.errors',
    'ConfigError': '.errors',
    'DeclarationError': '.errors',
    'DeclarationWarning': '.errors',
    'IncompatibleHeadError': '.errors',
    'MissingPluginError': '.errors',
    'PluginConflictError': '.errors',
    'PluginError': '.errors',
    'UnknownNameError': '.errors',
    'convert': '.checkpoints.convert',
    'to_transformers': '.checkpoints.export',
    'Declaration': '.declaration.declare',
    'DeclarationContext': '.declaration.context',
    'ModuleCode': '.declaration.context',
    'declare': '.declaration.declare',
    'print_difference': '.cli.declare',
    'build': '.model.build',
    'load': '.model.build',
    'summary': '.model.build',
    'ArchitConfig': '.model.config',
    'ArchitOutput': '.model.modeling',
    'ModelWithHead': '.model.modeling',
    'add_head': '.multitask.tasks',
    'build_multitask': '.multitask.tasks',
    'drop_head': '.multitask.tasks',
    'Backbone': '.parts.backbone',
    'BackboneFacts': '.parts.backbone',
    'BackboneOutput': '.parts.backbone',
    'CAPABILITIES': '.parts.backbone',
    'TransformersBackbone': '.parts.backbone',
    'config_from_dict': '.parts.configs',
    'config_to_dict': '.parts.configs',
    'one_of': '.parts.configs',
    'positive': '.parts.configs',
    'probability': '.parts.configs',
    'HFEquivalent': '.parts.head',
    'HeadConfig': '.parts.head',
    'HeadSpec': '.parts.head',
    'SEQUENCE_POOLINGS': '.parts.head',
    'Head': '.parts.head_module',
    'HeadOutput': '.parts.head_module',
    'pool_sequence': '.parts.head_module',
    'WORD_POOLING_MODES': '.parts.word_pooling',
    'pool_words': '.parts.word_pooling',
    'word_ids_from_spans': '.parts.word_pooling',
    'DensePooler': '.parts.blocks',
    'SequencePoolingHead': '.parts.blocks',
    'SequencePoolingConfig': '.parts.head',
    'VocabularyHead': '.parts.blocks',
    'activation': '.parts.blocks',
    'ModuleBackbone': '.parts.module_backbone',
    'HFLayout': '.parts.head',
    'IGNORE_INDEX': '.parts.head',
    'POOLER_POOLINGS': '.parts.head',
    'pooling_needs': '.parts.head',
    'not_with_pooler': '.parts.head',
    'encoder_roles': '.parts.backbone',
    'flag': '.parts.configs',
    'activation_name': '.parts.configs',
    'positive_number': '.parts.configs',
    'identifier': '.parts.configs',
    'positive_ints': '.parts.configs',
    'as_tuple': '.parts.configs',
    'non_negative': '.parts.configs',
    'hookimpl': '.registry.hookspecs',
    'hookspec': '.registry.hookspecs',
    'PluginHost': '.registry.host',
    'get_host': '.registry.host',
    'set_host': '.registry.host',
    'using': '.registry.host',
    'PluginInfo': '.registry.registrations',
    'Registration': '.registry.registrations',
    'Registry': '.registry.registrations',
    'RewriteSpec': '.rewrites.rewrite',
    'load_rewrites': '.rewrites.rewrite',
    'rewrite': '.rewrites.rewrite',
    'rewrites_of': '.rewrites.rewrite',
    'save_rewrites': '.rewrites.rewrite',
    'shared_copy': '.rewrites.sharing',
    'shares_storage': '.rewrites.sharing',
    'spec_schema': '.specs.schema',
    'build_from_spec': '.specs.spec',
    'build_optimizer': '.specs.spec',
    'check_spec': '.specs.spec',
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, globals())

_install_moved()
_auto_classes.install()
