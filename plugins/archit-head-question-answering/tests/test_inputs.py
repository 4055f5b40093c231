"""How labels reach the question-answering head, the answerability loss, and clear errors for bad input."""

from __future__ import annotations

import pytest
import torch

import archit_core

HEAD = "question-answering"


def model(**head_config):
    torch.manual_seed(0)
    return archit_core.build("bert", HEAD, tiny=True, head_config=head_config).eval()


IDS = torch.randint(5, 1000, (3, 8), generator=torch.Generator().manual_seed(2))


def test_answerability_loss_is_span_loss_plus_weighted_bce() -> None:
    m = model(answerability=True, answerability_weight=0.25)
    labels = torch.tensor([[2, 3, 1], [0, 0, 0], [5, 7, 1]])
    with torch.no_grad():
        out = m(input_ids=IDS, labels=labels)
        span_only = m(input_ids=IDS, start_positions=labels[:, 0], end_positions=labels[:, 1])
        derived = m(input_ids=IDS, labels=labels[:, :2])  # answerable derived: a (0, 0) span is unanswerable
    assert out.answerable_logits.shape == (3,)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(out.answerable_logits, labels[:, 2].float())
    from archit_head_question_answering.head import span_loss

    expected_span = span_loss(out.start_logits, out.end_logits, labels[:, 0], labels[:, 1])
    torch.testing.assert_close(out.loss, expected_span + 0.25 * bce)
    torch.testing.assert_close(derived.loss, out.loss)
    torch.testing.assert_close(span_only.loss, out.loss)  # start/end positions: the answerable target is derived too
    assert m(input_ids=IDS, return_dict=False)[2].shape == (3,)  # (start, end, answerable)


def test_answerability_trains_only_the_classifier_through_its_loss() -> None:
    m = model(answerability=True, answerability_weight=1.0).train()
    m(input_ids=IDS, labels=torch.tensor([[2, 3, 1], [0, 0, 0], [5, 7, 1]])).loss.backward()
    assert m.head.answerable.weight.grad is not None and m.head.answerable.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"labels": torch.tensor([1, 2, 3])}, r"labels must be an integer tensor of shape \(3, 2\)"),
        ({"labels": torch.zeros(3, 3, dtype=torch.long)}, "needs answerability=True"),
        ({"labels": torch.zeros(2, 2, dtype=torch.long)}, r"shape \(3, 2\)"),
        ({"labels": torch.zeros(3, 2)}, "integer"),
        ({"start_positions": torch.zeros(3, dtype=torch.long)}, "both start_positions= and end_positions="),
        ({"start_positions": torch.zeros(3, 2, dtype=torch.long), "end_positions": torch.zeros(3, dtype=torch.long)},
         r"start_positions must be an integer tensor of shape \(3,\)"),
        ({"labels": torch.zeros(3, 2, dtype=torch.long), "start_positions": torch.zeros(3, dtype=torch.long),
          "end_positions": torch.zeros(3, dtype=torch.long)}, "not both"),
    ],
)
def test_bad_labels_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(archit_core.ArchitError, match=message):
        model()(input_ids=IDS, **kwargs)


def test_positions_of_shape_batch_by_one_are_accepted_as_hugging_face_does() -> None:
    m = model()
    start, end = torch.tensor([1, 2, 3]), torch.tensor([2, 2, 4])
    with torch.no_grad():
        flat = m(input_ids=IDS, start_positions=start, end_positions=end).loss
        column = m(input_ids=IDS, start_positions=start[:, None], end_positions=end[:, None]).loss
    torch.testing.assert_close(flat, column)


@pytest.mark.parametrize(("data", "field"), [({"answerability": "yes"}, "answerability"),
                                             ({"answerability_weight": -1.0}, "answerability_weight"),
                                             ({"dropout": 1.5}, "dropout"), ({"num_labels": 2}, "num_labels")])
def test_invalid_configs_name_the_field(data: dict, field: str) -> None:
    with pytest.raises(archit_core.ConfigError, match=f"head_config.{field}"):
        archit_core.get_host().head(HEAD).obj.make_config(data)


def test_named_outputs_survive_torch_compile() -> None:
    m = model(answerability=True)
    with torch.no_grad():
        eager, compiled = m(input_ids=IDS), torch.compile(m)(input_ids=IDS)
    assert type(compiled).__name__ == "QuestionAnsweringOutput"
    for name in ("start_logits", "end_logits", "answerable_logits"):
        torch.testing.assert_close(compiled[name], eager[name])
