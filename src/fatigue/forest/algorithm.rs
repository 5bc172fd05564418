//! Fit / predict of the per-horizon forests.

use linfa::Dataset;
use linfa::traits::Fit;
use linfa_trees::DecisionTree;
use ndarray::{Array1, Array2, Axis};
use rand::Rng;
use rand::seq::SliceRandom;
use rayon::prelude::*;

use super::ForestParams;
use crate::fatigue::FatigueError;
use crate::fatigue::common::{clamp_hazard, rng};
use crate::fatigue::dataset::SurvivalData;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tree {
    pub features: Vec<usize>,
    pub tree: DecisionTree<f64, usize>,
}

/// Inputs with at least this many rows are predicted on all cores.
const PARALLEL_MIN_ROWS: usize = 2048;

/// A fitted tree as a table of nodes whose splits name columns of the full feature matrix.
struct FlatTree {
    nodes: Vec<FlatNode>,
}

enum FlatNode {
    Leaf(usize),
    /// Go to `left` when `x[column] < threshold` (as linfa compares), else to `right`.
    Split {
        column: usize,
        threshold: f64,
        left: usize,
        right: usize,
    },
}

impl FlatTree {
    fn new(t: &Tree) -> FlatTree {
        let mut nodes = Vec::new();
        Self::push(&mut nodes, t.tree.root_node(), &t.features);
        FlatTree { nodes }
    }

    /// Appends `node` and its subtree; returns its index.
    fn push(
        nodes: &mut Vec<FlatNode>,
        node: &linfa_trees::TreeNode<f64, usize>,
        features: &[usize],
    ) -> usize {
        let at = nodes.len();
        let children = node.children();
        let (false, Some(Some(l)), Some(Some(r))) =
            (node.is_leaf(), children.first(), children.get(1))
        else {
            // linfa gives every internal node both children; a leaf has its class.
            nodes.push(FlatNode::Leaf(node.prediction().unwrap_or(0)));
            return at;
        };
        let (feature, threshold, _) = node.split();
        nodes.push(FlatNode::Leaf(0)); // replaced below, once the children's places are known
        let left = Self::push(nodes, l, features);
        let right = Self::push(nodes, r, features);
        nodes[at] = FlatNode::Split {
            column: features.get(feature).copied().unwrap_or(usize::MAX),
            threshold,
            left,
            right,
        };
        at
    }

    fn predict(&self, row: ndarray::ArrayView1<f64>) -> usize {
        let mut i = 0;
        loop {
            match self.nodes.get(i) {
                Some(FlatNode::Leaf(v)) => return *v,
                Some(FlatNode::Split {
                    column,
                    threshold,
                    left,
                    right,
                }) => {
                    let v = row.get(*column).copied().unwrap_or(f64::NAN);
                    i = if v < *threshold { *left } else { *right };
                }
                None => return 0,
            }
        }
    }
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
            let mut tie_break = rng(seed, 5000 + ci as u64);
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
                // linfa-trees takes a leaf's class from a hash map, so a leaf whose two classes
                // weigh exactly the same gets a class in a per-process random order (and the
                // pruning that follows differs with it). Weights of 1 + a seeded draw below
                // 2⁻¹⁰ make such ties practically impossible and the forest reproducible bit
                // for bit, without changing which splits the leaf-size limits allow.
                let w = Array1::from_iter(
                    (0..n_sub).map(|_| 1.0 + tie_break.gen_range(0.0f32..1.0) / 1024.0),
                );
                let tree = DecisionTree::params()
                    .max_depth(Some(params.max_depth))
                    .min_weight_leaf(params.min_leaf)
                    .min_weight_split(2.0 * params.min_leaf)
                    .fit(&Dataset::new(x, y).with_weights(w))
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
    /// Trees are walked as flat node tables over the columns of `x` ([`FlatTree`]: the votes
    /// of linfa's own `predict`, without copying each tree's feature columns out of `x`), on
    /// all cores for large inputs.
    fn shares(&self, x: &Array2<f64>) -> Vec<Array1<f64>> {
        self.checkpoints
            .iter()
            .map(|(_, trees)| {
                let flat: Vec<FlatTree> = trees.iter().map(FlatTree::new).collect();
                let share = |row: ndarray::ArrayView1<f64>| {
                    let votes: usize = flat.iter().map(|t| t.predict(row)).sum();
                    (votes as f64 + 0.5) / (trees.len() as f64 + 1.0)
                };
                if x.nrows() >= PARALLEL_MIN_ROWS {
                    let v: Vec<f64> = x.axis_iter(Axis(0)).into_par_iter().map(share).collect();
                    Array1::from(v)
                } else {
                    x.axis_iter(Axis(0)).map(share).collect()
                }
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

#[cfg(test)]
mod tests {
    use linfa::traits::Predict;
    use ndarray::Array2;

    use super::*;
    use crate::fatigue::tests::{sim_rows, small_config};
    use crate::fatigue::{prepare_rows, survival_rows};

    #[test]
    fn flat_trees_vote_exactly_like_linfas_predict() {
        let cfg = small_config();
        let (tenant, rows) = sim_rows(51, 1, 40, 150).swap_remove(0);
        let p = prepare_rows(&tenant, &rows, &cfg.base).unwrap();
        let data = survival_rows(&p, &cfg.evaluation);
        let forest = Forest::fit(&data, &cfg.models.forest, 5).unwrap();
        // The data's rows, then rows sitting exactly on split thresholds (`<` goes left, so a
        // value equal to the threshold must go right, as in linfa).
        let mut x: Array2<f64> = data
            .x
            .slice(ndarray::s![..400.min(data.len()), ..])
            .to_owned();
        let mut on_edges = Vec::new();
        for (_, trees) in &forest.checkpoints {
            for t in trees {
                for node in FlatTree::new(t).nodes.iter().take(6) {
                    if let FlatNode::Split {
                        column, threshold, ..
                    } = node
                    {
                        let mut row = data.x.row(0).to_owned();
                        row[*column] = *threshold;
                        on_edges.push(row);
                    }
                }
            }
        }
        assert!(!on_edges.is_empty());
        for row in &on_edges {
            x.push_row(row.view()).unwrap();
        }
        let mut checked = 0;
        for (_, trees) in &forest.checkpoints {
            for t in trees {
                let want = t.tree.predict(&x.select(Axis(1), &t.features));
                let flat = FlatTree::new(t);
                for (i, row) in x.axis_iter(Axis(0)).enumerate() {
                    assert_eq!(flat.predict(row), want[i], "row {i}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 1000);
    }
}
