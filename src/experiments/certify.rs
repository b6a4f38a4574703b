//! `blindspot certify`: a checkpoint's certified accuracy on the first test images at each radius.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::loaded::LoadedModel;
use crate::certify::{self, Certification, CertifyConfig};
use crate::model::Layered;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertifyRun {
    pub model: String,
    pub checkpoint: String,
    pub epoch: usize,
    #[serde(flatten)]
    pub certification: Certification,
}

/// `config`'s certificates for the first `n` test images of `loaded`.
pub fn certify<M: Layered>(
    loaded: &LoadedModel<M>,
    config: &CertifyConfig,
    n: usize,
    device: &Device,
) -> Result<CertifyRun, certify::Error> {
    config.check()?;
    if n == 0 {
        return Err(certify::Error::NoImages);
    }
    if n > loaded.test.len() {
        return Err(certify::Error::TooMany { asked: n, available: loaded.test.len() });
    }
    let certification = certify::certify(&loaded.model, &loaded.test.head(n), config, device)?;
    Ok(CertifyRun {
        model: loaded.name.clone(),
        checkpoint: loaded.checkpoint.dir.display().to_string(),
        epoch: loaded.checkpoint.state.epoch,
        certification,
    })
}
