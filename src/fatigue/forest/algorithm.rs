//! Fit / predict of the per-horizon forests.

use linfa::Dataset;
use linfa::traits::{Fit, Predict};
use linfa_trees::DecisionTree;
use ndarray::{Array1, Array2, Axis};
use rand::Rng;
use rand::seq::SliceRandom;

use super::ForestParams;
use crate::fatigue::FatigueError;
use crate::fatigue::common::{clamp_hazard, rng};
use crate::fatigue::dataset::SurvivalData;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tree {
    pub features: Vec<usize>,
    pub tree: DecisionTree<f64, usize>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Forest {
    pub horizon: usize,
    /// Checkpoint days and their trees.
    pub checkpoints: Vec<(usize, Vec<Tree>)>,
}

impl Forest {
    pub fn fit(
        data: &SurvivalData,
        params: &ForestParams,
        seed: u64,
    ) -> Result<Forest, FatigueError> {
        params.validate()?;
        let h = data.horizon;
        let mut days: Vec<usize> = params
            .checkpoints
            .iter()
            .copied()
            .filter(|&c| c < h)
            .collect();
        days.push(h);
        let p = data.x.ncols();
        let n_feat = ((p as f64 * params.features).ceil() as usize).clamp(1, p.max(1));
        let mut checkpoints = Vec::new();
        for (ci, &c) in days.iter().enumerate() {
            let (rows, labels): (Vec<usize>, Vec<usize>) = (0..data.len())
                .filter_map(|i| data.label_at(i, c).map(|l| (i, usize::from(l))))
                .unzip();
            let pos = labels.iter().sum::<usize>();
            if rows.is_empty() || pos == 0 || pos == rows.len() {
                return Err(FatigueError::Data(format!(
                    "forest: onset within {c} days has {pos} positives in {} rows; need both",
                    rows.len()
                )));
            }
            let mut r = rng(seed, 1000 + ci as u64);
            let n_sub = ((rows.len() as f64 * params.bootstrap).ceil() as usize).max(1);
            let mut trees = Vec::with_capacity(params.trees);
            for _ in 0..params.trees {
                let mut feats: Vec<usize> = (0..p).collect();
                feats.shuffle(&mut r);
                feats.truncate(n_feat);
                feats.sort_unstable();
                let pick: Vec<usize> = (0..n_sub).map(|_| r.gen_range(0..rows.len())).collect();
                let idx: Vec<usize> = pick.iter().map(|&j| rows[j]).collect();
                let x = data.x.select(Axis(0), &idx).select(Axis(1), &feats);
                let y = Array1::from_iter(pick.iter().map(|&j| labels[j]));
                let tree = DecisionTree::params()
                    .max_depth(Some(params.max_depth))
                    .min_weight_leaf(params.min_leaf)
                    .min_weight_split(2.0 * params.min_leaf)
                    .fit(&Dataset::new(x, y))
                    .map_err(|e| FatigueError::Model(format!("forest: {e}")))?;
                trees.push(Tree {
                    features: feats,
                    tree,
                });
            }
            checkpoints.push((c, trees));
        }
        Ok(Forest {
            horizon: h,
            checkpoints,
        })
    }

    /// Vote shares per checkpoint, shrunk towards ½ by one pseudo-vote so no share is 0 or 1.
    fn shares(&self, x: &Array2<f64>) -> Vec<Array1<f64>> {
        self.checkpoints
            .iter()
            .map(|(_, trees)| {
                let mut votes = Array1::<f64>::zeros(x.nrows());
                for t in trees {
                    let pred: Array1<usize> = t.tree.predict(&x.select(Axis(1), &t.features));
                    votes.zip_mut_with(&pred, |v, &p| *v += p as f64);
                }
                votes.mapv(|v| (v + 0.5) / (trees.len() as f64 + 1.0))
            })
            .collect()
    }

    pub fn hazards(&self, x: &Array2<f64>) -> Array2<f64> {
        let shares = self.shares(x);
        let h = self.horizon;
        let mut out = Array2::<f64>::zeros((x.nrows(), h));
        for i in 0..x.nrows() {
            // Knots (0, 0), (c, F(c)) with F made non-decreasing.
            let mut knots = vec![(0usize, 0.0f64)];
            let mut fmax: f64 = 0.0;
            for (j, (c, _)) in self.checkpoints.iter().enumerate() {
                fmax = fmax.max(shares[j][i]);
                knots.push((*c, fmax.min(1.0 - 1e-4)));
            }
            let mut prev = 0.0;
            for k in 1..=h {
                let seg = knots.windows(2).find(|w| k <= w[1].0);
                let f = match seg {
                    Some(w) => {
                        let t = (k - w[0].0) as f64 / (w[1].0 - w[0].0) as f64;
                        w[0].1 + t * (w[1].1 - w[0].1)
                    }
                    None => knots.last().map(|l| l.1).unwrap_or(0.0),
                };
                out[[i, k - 1]] = clamp_hazard((f - prev) / (1.0 - prev));
                prev = f;
            }
        }
        out
    }
}
