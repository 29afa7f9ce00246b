"""Linear [In, Out] and Embedding [Vocab, Dim]."""

from __future__ import annotations

from torch import nn

from ..errors import PlanError
from .base import Layer, OpCall, register


@register("Linear", "Dense", "FC", example="Linear1 [16x5x5, 120]", example_shape=(2, 400))
def linear(call: OpCall) -> Layer:
    if len(call.shape) < 2:
        call.expect_rank([2, 3], "[N, ..., In]")
    features = call.shape[-1]
    call.check_given_size("In", "in_features", position=0, actual=features, noun="input features")
    out = call.size("Out", "out_features", position=1, what="Out")
    if out is None:
        raise PlanError("D2T207", "needs the number of output features ([In, Out] or Out=...)")
    extra = call.passthrough(nn.Linear, exclude=("in_features", "out_features"))
    return Layer(nn.Linear, (features, out), extra)


@register("Embedding", integer_input=True, example="Embedding [100, 16]", example_shape=(2, 5))
def embedding(call: OpCall) -> Layer:
    vocab = call.size("In", "num_embeddings", "Vocab", position=0, what="vocabulary size")
    dim = call.size("Out", "embedding_dim", "Dim", position=1, what="embedding size")
    if vocab is None or dim is None:
        raise PlanError("D2T207", "needs the vocabulary and embedding sizes ([VocabSize, NHidden])")
    extra = call.passthrough(nn.Embedding, exclude=("num_embeddings", "embedding_dim"))
    return Layer(nn.Embedding, (vocab, dim), extra)
