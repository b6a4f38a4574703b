//! A user's own burn module (examples/own_model.rs: a CNN with a residual block) trained with
//! pools, the Lipschitz penalty and a custom hook, attacked and bounded, all through the library:
//! the example's short run, so it cannot rot.

#[path = "../examples/own_model.rs"]
mod own_model;

use blindspot::bounds::{Lanczos, affine_bound};
use blindspot::{DeviceChoice, Layered};

#[test]
fn a_user_defined_residual_model_trains_with_pools_and_penalty_and_is_attacked_and_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let report = own_model::run(true, DeviceChoice::Cpu, tmp.path()).unwrap();
    let s = &report.summary;
    assert_eq!((s.run.as_str(), s.arch.as_str(), s.epochs), ("own-model", "residual-net", 2));
    assert!(s.test_error < 0.35, "test error {}", s.test_error);
    // The custom hook ran at the end of both epochs; the loss is finite and fell.
    assert_eq!(report.last_losses.len(), 2, "{:?}", report.last_losses);
    assert!(report.last_losses.iter().all(|l| l.is_finite()));
    // Both pools filled and were trained on in the second epoch.
    let pools = &s.history[1].pools;
    assert_eq!(pools.iter().map(|p| p.layer).collect::<Vec<_>>(), vec![0, 1]);
    assert!(pools.iter().all(|p| p.used > 0 && p.fill > 0), "{pools:?}");
    // The bounds hook measured the user's four maps every epoch, composed as the model says.
    for m in &s.history {
        assert_eq!(m.lipschitz.len(), 4);
        let b = &m.lipschitz;
        let network = m.lipschitz_network.unwrap();
        assert!((network - b[0] * (1.0 + b[1] * b[2]) * b[3]).abs() < 1e-9 * network, "{network} vs {b:?}");
    }
    // L-BFGS reached its random targets on most of the 20 images, with small distortions.
    assert_eq!(report.attack.examples, 20);
    assert!(report.attack.success_rate >= 0.8, "success {}", report.attack.success_rate);
    assert!(report.attack.mean_distortion > 0.0 && report.attack.mean_distortion < 0.3);
    // The table has one row per map, layer 2 twice, and the residual composition.
    let rows: Vec<(usize, &str)> = report.bounds.layers.iter().map(|l| (l.layer, l.kind.as_str())).collect();
    assert_eq!(rows, vec![(1, "conv"), (2, "conv"), (2, "conv"), (3, "dense")]);
    assert_eq!(report.bounds.layers[0].stride, Some(2));
    // The run folder holds a checkpoint the model loads back from, with the same bounds.
    let ckpt = blindspot::train::Checkpoint::open(&tmp.path().join("own-model")).unwrap();
    assert_eq!((ckpt.state.epoch, ckpt.name().as_str()), (2, "own-model"));
    let device = DeviceChoice::Cpu.device().unwrap();
    let fresh = own_model::ResidualNetConfig::new([1, 28, 28], 10).init(&device);
    let loaded = ckpt.load_model(fresh).unwrap();
    let maps = loaded.affine_maps().unwrap();
    let head = affine_bound(&maps[3].map, &Lanczos::default()).unwrap();
    assert!((head - report.bounds.layers[3].bound).abs() < 1e-4 * head, "{head}");
}
