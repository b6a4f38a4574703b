//! The losses the rooms train and attack with: the mean cross-entropy, and the per-example KL
//! divergence between two class distributions (TRADES' term, burn's `KLDivLoss` in log space).
//! The cross-entropy is the three tensor operations burn's `CrossEntropyLoss` module reduces to
//! here (log-softmax, gather, mean), without a module to build per device.

use burn::nn::loss::KLDivLossConfig;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;

/// Mean cross-entropy of `logits` `[batch, classes]` against `labels` `[batch]`.
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let [batch, _] = logits.dims();
    let picked = log_softmax(logits, 1).gather(1, labels.reshape([batch, 1]));
    picked.mean().neg()
}

/// Per-example `KL(p ‖ q)` `[batch]` of the class distributions `p = softmax(p_logits)` and
/// `q = softmax(q_logits)` `[batch, classes]` (TRADES' robustness term).
pub fn kl_divergence(p_logits: Tensor<2>, q_logits: Tensor<2>) -> Tensor<1> {
    let [batch, _] = p_logits.dims();
    let kl = KLDivLossConfig::new().with_log_target(true).init();
    kl.forward_no_reduction(log_softmax(q_logits, 1), log_softmax(p_logits, 1)).sum_dim(1).reshape([batch])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(deprecated)]
    fn kl_divergence_is_zero_for_equal_distributions_and_matches_its_formula() {
        let device = Device::libtorch();
        let p = Tensor::<2>::from_floats([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0]], &device);
        let q = Tensor::<2>::from_floats([[1.0, 2.0, 0.5], [3.0, 0.0, 0.0]], &device);
        let kl: Vec<f32> = kl_divergence(p.clone() + 7.0, p.clone()).into_data().iter::<f32>().collect();
        assert!(kl.iter().all(|v| v.abs() < 1e-6), "shifted logits, same distribution: {kl:?}");
        let kl: Vec<f32> = kl_divergence(p, q).into_data().iter::<f32>().collect();
        // Row 2: p uniform over 3, q ∝ (e³, 1, 1): KL = Σ (1/3) log((1/3) / q_j).
        let z = 3f32.exp() + 2.0;
        let expected = (1.0 / 3.0) * ((z / 3.0 / 3f32.exp()).ln() + 2.0 * (z / 3.0).ln());
        assert!(kl[0].abs() < 1e-6 && (kl[1] - expected).abs() < 1e-5, "{kl:?} vs {expected}");
    }
}
