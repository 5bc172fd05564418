//! Fit / predict of the survival MLP.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Linear, Module, Optimizer, ParamsAdamW};
use ndarray::Array2;
use rand::seq::SliceRandom;
use rand_distr::{Distribution, Normal};

use super::MlpParams;
use crate::fatigue::FatigueError;
use crate::fatigue::common::{Standardizer, clamp_hazard, rng};
use crate::fatigue::dataset::SurvivalData;

fn ce(e: candle_core::Error) -> FatigueError {
    FatigueError::Model(format!("survival mlp: {e}"))
}

/// The network: layer weights (`l{i}.weight` out×in, `l{i}.bias`), the standardiser and the
/// horizon.
#[derive(Debug, Clone)]
pub struct SurvivalMlp {
    pub scaler: Standardizer,
    pub horizon: usize,
    pub layers: Vec<Linear>,
    /// Epochs trained and the best one (kept).
    pub epochs: usize,
    pub best_epoch: usize,
}

/// Metadata stored next to the safetensors weights.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MlpMeta {
    pub scaler: Standardizer,
    pub horizon: usize,
    pub layers: usize,
    pub epochs: usize,
    pub best_epoch: usize,
}

fn forward(layers: &[Linear], x: &Tensor) -> candle_core::Result<Tensor> {
    let mut h = x.clone();
    for (i, l) in layers.iter().enumerate() {
        h = l.forward(&h)?;
        if i + 1 < layers.len() {
            h = h.relu()?;
        }
    }
    Ok(h)
}

/// log(1 + e^x), stable for large |x|.
fn softplus(x: &Tensor) -> candle_core::Result<Tensor> {
    x.relu()? + (x.abs()?.neg()?.exp()? + 1.0)?.log()?
}

/// Mean censored negative log-likelihood per followed person-day.
fn nll(logits: &Tensor, y: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let pos = (y * softplus(&logits.neg()?)?)?;
    let neg = ((y.affine(-1.0, 1.0))? * softplus(logits)?)?;
    let total = ((pos + neg)? * mask)?.sum_all()?;
    total / mask.sum_all()?.to_scalar::<f32>()?.max(1.0) as f64
}

/// Targets and masks (n × H, f32) of the rows `idx`.
fn targets(d: &SurvivalData, idx: &[usize], dev: &Device) -> candle_core::Result<(Tensor, Tensor)> {
    let h = d.horizon;
    let mut y = vec![0f32; idx.len() * h];
    let mut m = vec![0f32; idx.len() * h];
    for (r, &i) in idx.iter().enumerate() {
        for k in 1..=d.duration[i].min(h) {
            m[r * h + k - 1] = 1.0;
        }
        if d.event[i] && d.duration[i] <= h {
            y[r * h + d.duration[i] - 1] = 1.0;
        }
    }
    Ok((
        Tensor::from_vec(y, (idx.len(), h), dev)?,
        Tensor::from_vec(m, (idx.len(), h), dev)?,
    ))
}

fn rows_tensor(z: &Array2<f64>, idx: &[usize], dev: &Device) -> candle_core::Result<Tensor> {
    let p = z.ncols();
    let mut v = Vec::with_capacity(idx.len() * p);
    for &i in idx {
        v.extend(z.row(i).iter().map(|x| *x as f32));
    }
    Tensor::from_vec(v, (idx.len(), p), dev)
}

impl SurvivalMlp {
    pub fn fit(
        train: &SurvivalData,
        validation: &SurvivalData,
        params: &MlpParams,
        seed: u64,
    ) -> Result<SurvivalMlp, FatigueError> {
        params.validate()?;
        if train.is_empty() {
            return Err(FatigueError::Data("survival mlp: no training rows".into()));
        }
        let dev = Device::Cpu;
        let scaler = Standardizer::fit(&train.x);
        let zt = scaler.transform(&train.x);
        let zv = scaler.transform(&validation.x);
        let h = train.horizon;

        // Seeded He-normal weights, zero biases except the output bias at the training
        // data's mean daily hazard (so training starts from the right base rate).
        let mut r = rng(seed, 3000);
        let mut widths = vec![zt.ncols()];
        widths.extend(params.hidden.iter().copied());
        widths.push(h);
        let (mut ev, mut pd) = (0.0, 0.0);
        for i in 0..train.len() {
            pd += train.duration[i] as f64;
            ev += f64::from(u8::from(train.event[i]));
        }
        let base = crate::fatigue::common::logit((ev / pd.max(1.0)).max(1e-4));
        let mut vars = Vec::new();
        for (l, w) in widths.windows(2).enumerate() {
            let (fan_in, fan_out) = (w[0], w[1]);
            let normal = Normal::new(0.0, (2.0 / fan_in.max(1) as f64).sqrt())
                .map_err(|e| FatigueError::Model(e.to_string()))?;
            let wv: Vec<f32> = (0..fan_in * fan_out)
                .map(|_| normal.sample(&mut r) as f32)
                .collect();
            let b0 = if l + 2 == widths.len() {
                base as f32
            } else {
                0.0
            };
            let wt = Var::from_tensor(&Tensor::from_vec(wv, (fan_out, fan_in), &dev).map_err(ce)?)
                .map_err(ce)?;
            let bt =
                Var::from_tensor(&Tensor::from_vec(vec![b0; fan_out], fan_out, &dev).map_err(ce)?)
                    .map_err(ce)?;
            vars.push((wt, bt));
        }
        let layers = |vars: &[(Var, Var)]| -> Vec<Linear> {
            vars.iter()
                .map(|(w, b)| Linear::new(w.as_tensor().clone(), Some(b.as_tensor().clone())))
                .collect()
        };
        let mut opt = AdamW::new(
            vars.iter()
                .flat_map(|(w, b)| [w.clone(), b.clone()])
                .collect(),
            ParamsAdamW {
                lr: params.learning_rate,
                weight_decay: params.weight_decay,
                ..Default::default()
            },
        )
        .map_err(ce)?;

        let vidx: Vec<usize> = (0..validation.len()).collect();
        let xv = rows_tensor(&zv, &vidx, &dev).map_err(ce)?;
        let (yv, mv) = targets(validation, &vidx, &dev).map_err(ce)?;
        let mut order: Vec<usize> = (0..train.len()).collect();
        let mut best = (f32::INFINITY, 0usize, Vec::<(Tensor, Tensor)>::new());
        let mut epochs = 0;
        for epoch in 1..=params.max_epochs {
            epochs = epoch;
            order.shuffle(&mut r);
            for batch in order.chunks(params.batch_size) {
                let xb = rows_tensor(&zt, batch, &dev).map_err(ce)?;
                let (yb, mb) = targets(train, batch, &dev).map_err(ce)?;
                let loss = nll(&forward(&layers(&vars), &xb).map_err(ce)?, &yb, &mb).map_err(ce)?;
                opt.backward_step(&loss).map_err(ce)?;
            }
            let vloss = if validation.is_empty() {
                0.0
            } else {
                nll(&forward(&layers(&vars), &xv).map_err(ce)?, &yv, &mv)
                    .and_then(|t| t.to_scalar::<f32>())
                    .map_err(ce)?
            };
            if vloss < best.0 || best.2.is_empty() {
                let snapshot = vars
                    .iter()
                    .map(|(w, b)| Ok((w.as_tensor().copy()?, b.as_tensor().copy()?)))
                    .collect::<candle_core::Result<Vec<_>>>()
                    .map_err(ce)?;
                best = (vloss, epoch, snapshot);
            } else if epoch - best.1 >= params.patience {
                break;
            }
        }
        let layers = best
            .2
            .into_iter()
            .map(|(w, b)| Linear::new(w, Some(b)))
            .collect();
        Ok(SurvivalMlp {
            scaler,
            horizon: h,
            layers,
            epochs,
            best_epoch: best.1,
        })
    }

    pub fn hazards(&self, x: &Array2<f64>) -> Result<Array2<f64>, FatigueError> {
        let dev = Device::Cpu;
        let z = self.scaler.transform(x);
        let idx: Vec<usize> = (0..z.nrows()).collect();
        let mut out = Array2::<f64>::zeros((x.nrows(), self.horizon));
        // Chunks bound the activation memory of large scoring batches.
        for chunk in idx.chunks(65_536) {
            let xt = rows_tensor(&z, chunk, &dev).map_err(ce)?;
            let p = candle_nn::ops::sigmoid(&forward(&self.layers, &xt).map_err(ce)?)
                .and_then(|t| t.to_dtype(DType::F64))
                .and_then(|t| t.to_vec2::<f64>())
                .map_err(ce)?;
            for (r, row) in chunk.iter().zip(p) {
                for (k, v) in row.into_iter().enumerate().take(self.horizon) {
                    out[[*r, k]] = clamp_hazard(v);
                }
            }
        }
        Ok(out)
    }

    /// (`mlp.safetensors` bytes, `mlp.json` metadata bytes).
    pub fn to_files(&self) -> Result<Vec<(String, Vec<u8>)>, FatigueError> {
        let mut map = HashMap::new();
        for (i, l) in self.layers.iter().enumerate() {
            map.insert(format!("l{i}.weight"), l.weight().clone());
            if let Some(b) = l.bias() {
                map.insert(format!("l{i}.bias"), b.clone());
            }
        }
        let tmp = tempfile::NamedTempFile::new().map_err(|e| FatigueError::Io(e.to_string()))?;
        candle_core::safetensors::save(&map, tmp.path()).map_err(ce)?;
        let weights = std::fs::read(tmp.path()).map_err(|e| FatigueError::Io(e.to_string()))?;
        let meta = MlpMeta {
            scaler: self.scaler.clone(),
            horizon: self.horizon,
            layers: self.layers.len(),
            epochs: self.epochs,
            best_epoch: self.best_epoch,
        };
        Ok(vec![
            ("mlp.safetensors".into(), weights),
            (
                "mlp.json".into(),
                serde_json::to_vec(&meta).map_err(|e| FatigueError::Io(e.to_string()))?,
            ),
        ])
    }

    pub fn from_files(weights: &[u8], meta: &[u8]) -> Result<SurvivalMlp, FatigueError> {
        let meta: MlpMeta = serde_json::from_slice(meta)
            .map_err(|e| FatigueError::Model(format!("mlp.json: {e}")))?;
        let map = candle_core::safetensors::load_buffer(weights, &Device::Cpu).map_err(ce)?;
        let mut layers = Vec::new();
        for i in 0..meta.layers {
            let w = map
                .get(&format!("l{i}.weight"))
                .ok_or_else(|| FatigueError::Model(format!("mlp.safetensors: no l{i}.weight")))?;
            let b = map.get(&format!("l{i}.bias")).cloned();
            layers.push(Linear::new(w.clone(), b));
        }
        Ok(SurvivalMlp {
            scaler: meta.scaler,
            horizon: meta.horizon,
            layers,
            epochs: meta.epochs,
            best_epoch: meta.best_epoch,
        })
    }
}
