"""Declaration: class code for a model modified in place (diff against a meta-device reference, emitters, code generation, verification)."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    'CONTAINERS': '.emitters',
    'Call': '.emitters',
    'Check': '.verify',
    'DEFAULT_SUFFIX': '.declare',
    'Declaration': '.declare',
    'DeclarationContext': '.declare',
    'Diff': '.diff',
    'EMITTERS': '.emitters',
    'InferenceError': '.emitters',
    'InitCopy': '.codegen',
    'ModuleCode': '.declare',
    'Namespace': '.codegen',
    'Record': '.diff',
    'VerificationReport': '.verify',
    'attribute': '.codegen',
    'build_reference': '.diff',
    'call': '.codegen',
    'check_call': '.emitters',
    'compare': '.diff',
    'comprehension_parts': '.codegen',
    'declare': '.declare',
    'declare_command': '.declare',
    'dummy_inputs': '.verify',
    'format_code': '.codegen',
    'identifier': '.codegen',
    'infer_call': '.emitters',
    'is_identifier': '.codegen',
    'is_literal': '.emitters',
    'literal': '.emitters',
    'name': '.codegen',
    'names_in': '.codegen',
    'native_call': '.emitters',
    'own_state': '.diff',
    'plain_attributes': '.diff',
    'print_difference': '.declare',
    'structure_difference': '.diff',
    'tied_groups': '.diff',
    'verify': '.verify',
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, globals())
