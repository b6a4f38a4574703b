//! The one place that knows blindspot runs on LibTorch: device names, CUDA checks and thread
//! settings. Everything else takes a `burn::Device`, so a CubeCL device stays a switch here.

use std::fmt;
use std::str::FromStr;

use burn::prelude::Device;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown device {0:?}: expected cpu, cuda or cuda:N")]
    UnknownDevice(String),
    #[error("device {0} asked for, but CUDA is not available to libtorch on this machine")]
    CudaUnavailable(DeviceChoice),
    #[error("device {asked} asked for, but libtorch sees only {count} CUDA device(s)")]
    NoSuchCudaDevice { asked: DeviceChoice, count: usize },
}

/// Where to run: the LibTorch CPU backend or a CUDA GPU through LibTorch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    #[default]
    Cpu,
    Cuda(usize),
}

impl DeviceChoice {
    /// The burn device, after checking that libtorch can really use it. (burn 0.22 marks its
    /// LibTorch backend deprecated in favour of CubeCL; the user chose LibTorch.)
    #[allow(deprecated)]
    pub fn device(self) -> Result<Device, Error> {
        match self {
            DeviceChoice::Cpu => Ok(Device::libtorch()),
            DeviceChoice::Cuda(index) => {
                if !tch::Cuda::is_available() {
                    return Err(Error::CudaUnavailable(self));
                }
                let count = tch::Cuda::device_count() as usize;
                if index >= count {
                    return Err(Error::NoSuchCudaDevice { asked: self, count });
                }
                Ok(Device::libtorch_cuda(index))
            }
        }
    }

    /// The choice that names `device` (autodiff or not).
    #[allow(deprecated)]
    pub fn of(device: &Device) -> DeviceChoice {
        let plain = device.clone().without_autodiff();
        if plain == Device::libtorch() {
            return DeviceChoice::Cpu;
        }
        (0..tch::Cuda::device_count().max(0) as usize)
            .find(|&i| plain == Device::libtorch_cuda(i))
            .map_or(DeviceChoice::Cpu, DeviceChoice::Cuda)
    }
}

/// Whether libtorch was linked with CUDA and sees a GPU.
pub fn cuda_available() -> bool {
    tch::Cuda::is_available()
}

/// Number of threads libtorch's CPU kernels use.
pub fn cpu_threads() -> usize {
    tch::get_num_threads() as usize
}

/// Sets the number of threads libtorch's CPU kernels use.
pub fn set_cpu_threads(n: usize) {
    tch::set_num_threads(n as i32);
}

/// Keeps memory that libtorch frees for its next allocations (glibc's `malloc` on Linux; elsewhere
/// nothing). By default glibc gives blocks over 32 MB back to the system as soon as they are freed,
/// and an attack or training step that frees and asks again for such blocks (a SmallCNN's
/// activations at batch 500 are 43 MB) then faults every page back in: a fifth of an evaluation's
/// CPU time. The process keeps its peak memory instead. The command line calls this at start;
/// call it first in a program of your own.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes malloc's parameters; glibc applies them to later calls.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
    }
}

/// Limits libtorch's CPU threads (an OpenMP setting of the calling thread) until dropped.
pub struct CpuThreadLimit {
    previous: usize,
}

impl CpuThreadLimit {
    pub fn new(threads: usize) -> CpuThreadLimit {
        let previous = cpu_threads();
        set_cpu_threads(threads.max(1));
        CpuThreadLimit { previous }
    }
}

impl Drop for CpuThreadLimit {
    fn drop(&mut self) {
        set_cpu_threads(self.previous);
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl FromStr for DeviceChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" | "gpu" => Ok(DeviceChoice::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|i| i.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| Error::UnknownDevice(s.to_string())),
        }
    }
}

impl Serialize for DeviceChoice {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DeviceChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_round_trip() {
        for (s, d) in [("cpu", DeviceChoice::Cpu), ("cuda:0", DeviceChoice::Cuda(0)), ("cuda:3", DeviceChoice::Cuda(3))]
        {
            assert_eq!(s.parse::<DeviceChoice>().unwrap(), d);
            assert_eq!(d.to_string(), s);
        }
        assert_eq!("cuda".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cuda(0));
        assert!("tpu".parse::<DeviceChoice>().is_err());
        assert!("cuda:x".parse::<DeviceChoice>().is_err());
    }
}
