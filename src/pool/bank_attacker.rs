//! The bank's attacker threads: each takes the newest model snapshot, picks banked perturbations at
//! random, deepens them by PGD from where they are (not from a random start) on that snapshot, and
//! sends them back through a bounded channel; the bank writes back those the trainer has not renewed
//! since they were read. The trainer's cheap renewal keeps every row it uses current; the attackers
//! spend spare cores making the bank stronger.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use burn::prelude::*;
use crossbeam::channel::{Receiver, Sender, bounded, unbounded};
use parking_lot::RwLock;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::attacker::{panic_message, send_unless_stopped};
use super::bank::Store;
use super::bank_config::BankConfig;
use super::snapshot::{PoolModel, SnapshotCell};
use crate::attack::{Goal, PgdConfig, Surface, descend, project};
use crate::data::{DeviceImages, Images};

/// Perturbations an attacker deepened on one snapshot.
pub(super) struct Deepened {
    pub(super) slots: Vec<usize>,
    /// The slots' versions when the attacker read them: a slot renewed since keeps the trainer's row.
    pub(super) read_versions: Vec<u64>,
    pub(super) rows: Vec<f32>,
    /// The snapshot's version.
    pub(super) version: u64,
    pub(super) seconds: f64,
}

/// Running attacker threads of a bank.
pub(super) struct BankAttackers {
    stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<()>>,
    pub(super) deliveries: Receiver<Deepened>,
    pub(super) failures: Receiver<String>,
}

/// What the attackers share with the bank: its store, the clean training images, the snapshots.
pub(super) type Shared<M> = (Arc<RwLock<Store>>, Arc<Images>, Arc<SnapshotCell<M>>);

impl BankAttackers {
    pub(super) fn spawn<M: PoolModel>(
        config: &BankConfig,
        steps_per_epoch: usize,
        shared: Shared<M>,
        seed: u64,
    ) -> Result<BankAttackers, super::Error> {
        let (send, deliveries) = bounded::<Deepened>(2 * config.attackers);
        let (fail, failures) = unbounded::<String>();
        let mut attackers =
            BankAttackers { stop: Arc::new(AtomicBool::new(false)), handles: Vec::new(), deliveries, failures };
        for i in 0..config.attackers {
            let (config, shared, stop, send, fail) =
                (config.clone(), shared.clone(), attackers.stop.clone(), send.clone(), fail.clone());
            let handle = std::thread::Builder::new()
                .name(format!("bank-attacker-{i}"))
                .spawn(move || {
                    // One libtorch CPU thread per attacker: the trainer keeps the rest.
                    crate::backend::set_cpu_threads(1);
                    let seed = seed ^ (0xBA4C_A77A + i as u64);
                    let run = AssertUnwindSafe(|| attack_loop(&config, steps_per_epoch, &shared, &stop, &send, seed));
                    if let Err(panic) = catch_unwind(run) {
                        let _ = fail.send(format!("bank attacker {i} panicked: {}", panic_message(panic)));
                    }
                })
                // The threads already started are stopped and joined when `attackers` drops.
                .map_err(|e| super::Error::Attacker(format!("bank attacker {i} could not be started: {e}")))?;
            attackers.handles.push(handle);
        }
        Ok(attackers)
    }
}

impl Drop for BankAttackers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        while self.deliveries.try_recv().is_ok() {}
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}

fn attack_loop<M: PoolModel>(
    config: &BankConfig,
    steps_per_epoch: usize,
    (store, train, snapshots): &Shared<M>,
    stop: &AtomicBool,
    send: &Sender<Deepened>,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = train.len();
    while !stop.load(Ordering::SeqCst) {
        let Some(snapshot) = snapshots.latest() else {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        };
        let started = Instant::now();
        // Banked perturbations only: one not made yet has nothing to deepen.
        let (slots, read_versions, deltas) = {
            let store = store.read();
            let slots: Vec<usize> =
                (0..config.attack_batch).map(|_| rng.random_range(0..n)).filter(|&i| store.is_banked(i)).collect();
            let versions: Vec<u64> = slots.iter().map(|&i| store.versions[i]).collect();
            let deltas: Vec<f32> = slots.iter().flat_map(|&i| store.row(i).iter().copied()).collect();
            (slots, versions, deltas)
        };
        if slots.is_empty() {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        let model = &snapshot.model;
        let device = model.devices().into_iter().next().expect("a model with a bank has weights");
        let clean = DeviceImages::new(&train.select(&slots), &device).all();
        let surface = Surface::new(model, 0).expect("every model has layer 0");
        let epsilon = config.epsilon_at(snapshot.version, steps_per_epoch);
        let attack = PgdConfig::linf(epsilon, config.attack_steps);
        let width = deltas.len() / slots.len();
        let delta = Tensor::<2>::from_data(TensorData::new(deltas, [slots.len(), width]), &device);
        let start = project(&surface, &clean.inputs, clean.inputs.clone() + delta, &attack);
        let goal = Goal { labels: clean.labels, targets: None };
        let z = descend(&surface, clean.inputs.clone(), start, &attack, |logits| goal.loss(logits));
        let rows: Vec<f32> = (z - clean.inputs).into_data().iter::<f32>().collect();
        let deepened = Deepened {
            slots,
            read_versions,
            rows,
            version: snapshot.version,
            seconds: started.elapsed().as_secs_f64(),
        };
        if !send_unless_stopped(send, deepened, stop) {
            return;
        }
    }
}
