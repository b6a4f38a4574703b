//! The two examples of bringing a burn model as it is (examples/whole_model.rs through the
//! Trainer, examples/own_loop.rs in a loop of its own), run in their short form so they cannot rot.

#[allow(dead_code)]
#[path = "../examples/own_loop.rs"]
mod own_loop;

use own_loop::whole_model;

use blindspot::train::Checkpoint;
use blindspot::{DeviceChoice, Layered, Whole};
use burn::prelude::*;

#[test]
fn a_plain_burn_cnn_wrapped_whole_trains_with_fresh_pgd_and_an_input_pool_and_is_measured() {
    let tmp = tempfile::tempdir().unwrap();
    let (s, r) = whole_model::run(true, DeviceChoice::Cpu, tmp.path()).unwrap();
    assert_eq!((s.run.as_str(), s.epochs), ("whole-model", 2));
    // 17.5% measured after two short epochs of adversarial training (chance: 90%).
    assert!(s.test_error < 0.35, "test error {}", s.test_error);
    // The input pool filled and was trained on in the second epoch.
    let pools = &s.history[1].pools;
    assert!(pools.len() == 1 && pools[0].layer == 0 && pools[0].used > 0, "{pools:?}");
    // The ensemble measured what it was asked, and no attack makes a model more accurate.
    assert_eq!((r.examples, r.epsilon), (100, 0.1));
    assert!(r.clean_accuracy > 0.7 && r.robust_accuracy <= r.clean_accuracy, "{r:?}");
    assert_eq!(r.attacks.len(), 3);
    // The checkpoint is the plain CNN's own record: it loads into a `Cnn` with no wrapper.
    let device = DeviceChoice::Cpu.device().unwrap();
    let ckpt = Checkpoint::open(&tmp.path().join("whole-model")).unwrap();
    let cnn = ckpt.load_model(whole_model::CnnConfig::new().init(&device)).unwrap();
    let wrapped = Whole::new(cnn.clone(), whole_model::Cnn::forward, [1, 28, 28]).unwrap();
    let x = Tensor::<4>::random([3, 1, 28, 28], burn::tensor::Distribution::Uniform(0.0, 1.0), &device);
    let direct = cnn.forward(x.clone());
    let through = wrapped.forward(x.reshape([3, 784]));
    assert!(direct.sub(through).abs().max().into_scalar::<f32>() < 1e-6);
    // Running the example again makes its run again (the example's own folder).
    assert!(whole_model::run(true, DeviceChoice::Cpu, tmp.path()).is_ok());
}

#[test]
fn a_users_own_loop_calls_pgd_and_the_evaluator_as_plain_functions() {
    let (test_error, r) = own_loop::run(true, DeviceChoice::Cpu).unwrap();
    // Two short epochs of adversarial training: well below chance (90%); 26.6% measured.
    assert!(test_error < 0.5, "test error {test_error}");
    assert_eq!(r.examples, 100);
    assert!(r.robust_accuracy > 0.0 && r.robust_accuracy <= r.clean_accuracy, "{r:?}");
}

#[test]
fn whole_refuses_a_forward_pass_that_does_not_give_one_row_of_logits() {
    let device = DeviceChoice::Cpu.device().unwrap();
    let cnn = whole_model::CnnConfig::new().init(&device);
    let err =
        Whole::new(cnn.clone(), |m: &whole_model::Cnn, x| m.forward(x).reshape([-1, 1]), [1, 28, 28]).unwrap_err();
    assert!(err.to_string().contains("not [1, classes ≥ 2]"), "{err}");
    assert!(Whole::new(cnn.clone(), whole_model::Cnn::forward, [1, 0, 28]).is_err());
    let whole = Whole::new(cnn, whole_model::Cnn::forward, [1, 28, 28]).unwrap();
    assert_eq!((whole.classes(), whole.depth(), whole.activation_box(0)), (10, 1, (0.0, 1.0)));
    assert!(whole.clone().bounds(1.0, -1.0).is_err());
    assert_eq!(whole.bounds(-1.0, 1.0).unwrap().activation_box(0), (-1.0, 1.0));
}
