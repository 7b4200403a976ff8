"""gscsim.nn.attention against torch's F.scaled_dot_product_attention: outputs and gradients."""
import pytest
import torch
import torch.nn.functional as F

from gscsim.nn.attention import attention


@pytest.mark.parametrize("masked", [False, True])
def test_attention_and_its_gradients_match_torch_sdpa(masked):
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 10, 8, dtype=torch.float64, requires_grad=True)
               for _ in range(3))
    bias = None
    if masked:                                       # block-causal, as VAR's attention bias
        blocks = torch.tensor([0, 1, 1, 1, 2, 2, 2, 2, 2, 2])
        bias = torch.zeros(10, 10, dtype=torch.float64).masked_fill(
            blocks[None, :] > blocks[:, None], float("-inf"))
    ours = attention(q, k, v, bias, scale=0.3)
    grads = torch.autograd.grad(ours.sum(), (q, k, v))
    reference = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=0.3)
    expected = torch.autograd.grad(reference.sum(), (q, k, v))
    assert torch.allclose(ours, reference, atol=1e-10)
    assert all(torch.allclose(a, b, atol=1e-10) for a, b in zip(grads, expected))


def test_inference_path_equals_training_path():
    torch.manual_seed(1)
    q, k, v = (torch.randn(4, 2, 7, 16) for _ in range(3))
    with torch.no_grad():
        fused = attention(q, k, v)                   # torch's kernel: no mask, no gradient
    written_out = attention(q.requires_grad_(), k, v)
    assert torch.allclose(fused, written_out, atol=1e-5)
