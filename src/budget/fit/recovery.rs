//! How well the budget model recovers contributions it was not told: fits on data with known
//! truth, compared with that truth (`omnify evaluate budget-recovery`). Three sources:
//!
//! - `generated`: [`crate::budget::synth::generate`] (3 channels × 156 weeks, geometric
//!   adstock and Hill curves drawn at random, two channels that pause and one that never
//!   does), one dataset per seed;
//! - `pymc-example`: the process of PyMC-Marketing's example notebook rebuilt from its
//!   description ([`crate::budget::synth::pymc_example`]), one dataset per seed;
//! - `bundled-table`: the wide table under `data/mmm/` with its truth file;
//! - `sample`: the bundled sample's campaigns (ingested into a temporary warehouse, fitted
//!   per tenant with the shipped job spec) against the simulator's true contributions.
//!
//! Each channel fit is scored by its share and ROAS errors and whether its 90% share interval
//! covers the truth; for generated data, least squares given the TRUE curves (only the
//! coefficients and the baseline estimated) is the floor no fit of this model beats on average.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::linalg;
use super::{BaselineSpec, ChannelSpec, FitParams, train};
use crate::budget::series::{self, Dataset};
use crate::budget::synth::{SynthConfig, generate, pymc_example};
use crate::budget::transform::{Adstock, Saturation};

/// Relative half-width of the 90% share interval at or under which a channel counts as well
/// identified by the data.
pub const WELL_IDENTIFIED: f64 = 0.10;

/// Where the datasets with known truth come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Generated,
    PymcExample,
    BundledTable,
    Sample,
}

impl Source {
    pub fn parse(s: &str) -> Result<Source, String> {
        match s {
            "generated" => Ok(Source::Generated),
            "pymc-example" => Ok(Source::PymcExample),
            "bundled-table" => Ok(Source::BundledTable),
            "sample" => Ok(Source::Sample),
            other => Err(format!(
                "unknown data `{other}`: use generated, pymc-example, bundled-table or sample"
            )),
        }
    }

    /// The noise each source is measured at by default (a share of the mean outcome for
    /// generated data, the outcome's σ for the example process).
    pub fn default_noise(self) -> f64 {
        match self {
            Source::Generated => 0.05,
            Source::PymcExample => 0.25,
            Source::BundledTable | Source::Sample => 0.0,
        }
    }
}

/// What to fit.
#[derive(Debug, Clone)]
pub struct Options {
    pub source: Source,
    /// Datasets (one per seed from `first_seed`); ignored for the bundled table.
    pub runs: u64,
    pub first_seed: u64,
    pub noise: f64,
    pub params: FitParams,
    /// For pymc-example: write each dataset as `DIR/data_SEED.csv` (the example's columns) and
    /// every fit with its truth as `DIR/omnify.csv`, for `scripts/pymc_reference.py` to fit
    /// PyMC-Marketing on the same data and compare.
    pub dump: Option<std::path::PathBuf>,
}

/// One channel of one fitted dataset against its truth.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelFit {
    pub seed: u64,
    pub channel: String,
    pub true_share: f64,
    pub true_roas: f64,
    pub share: f64,
    pub share_lo: f64,
    pub share_hi: f64,
    pub roas: f64,
    /// The floor's (share error, relative ROAS error), when known.
    pub floor: Option<(f64, f64)>,
    pub seconds: f64,
}

impl ChannelFit {
    pub fn covered(&self) -> bool {
        self.share_lo <= self.true_share && self.true_share <= self.share_hi
    }

    /// (absolute share error, relative ROAS error).
    pub fn errors(&self) -> (f64, f64) {
        (
            (self.share - self.true_share).abs(),
            (self.roas / self.true_roas - 1.0).abs(),
        )
    }

    pub fn well_identified(&self) -> bool {
        (self.share_hi - self.share_lo) / 2.0 <= WELL_IDENTIFIED * self.share
    }
}

/// Medians of a set of (share error, ROAS error).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Errors {
    pub channels: usize,
    /// Median absolute share error, as a share (0.01 = one point).
    pub median_share_error: f64,
    /// Median relative ROAS error (0.05 = 5%).
    pub median_roas_error: f64,
    /// Channels within ±1 point of share and 5% of ROAS.
    pub within: usize,
}

impl Errors {
    pub fn of(errs: &[(f64, f64)]) -> Errors {
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            match v.len() {
                0 => f64::NAN,
                n if n % 2 == 1 => v[n / 2],
                n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
            }
        };
        Errors {
            channels: errs.len(),
            median_share_error: median(errs.iter().map(|e| e.0).collect()),
            median_roas_error: median(errs.iter().map(|e| e.1).collect()),
            within: errs.iter().filter(|e| e.0 <= 0.01 && e.1 <= 0.05).count(),
        }
    }
}

/// The figures of one group of channel fits (all channels, or one named channel).
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub name: String,
    /// Mean true share of the group's channels.
    pub mean_true_share: f64,
    pub covered: usize,
    pub fits: usize,
    pub all: Errors,
    pub well_identified: Errors,
    /// Least squares given the true curves, when the truth includes them.
    pub floor: Option<Errors>,
}

impl Group {
    pub fn coverage(&self) -> f64 {
        self.covered as f64 / self.fits.max(1) as f64
    }

    fn of(name: &str, fits: &[&ChannelFit]) -> Group {
        let errs: Vec<(f64, f64)> = fits.iter().map(|f| f.errors()).collect();
        let identified: Vec<(f64, f64)> = fits
            .iter()
            .filter(|f| f.well_identified())
            .map(|f| f.errors())
            .collect();
        let floor: Vec<(f64, f64)> = fits.iter().filter_map(|f| f.floor).collect();
        Group {
            name: name.to_string(),
            mean_true_share: fits.iter().map(|f| f.true_share).sum::<f64>()
                / fits.len().max(1) as f64,
            covered: fits.iter().filter(|f| f.covered()).count(),
            fits: fits.len(),
            all: Errors::of(&errs),
            well_identified: Errors::of(&identified),
            floor: (!floor.is_empty()).then(|| Errors::of(&floor)),
        }
    }
}

/// Every fit and its summary.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub source: Source,
    pub runs: u64,
    pub noise: f64,
    pub seconds: f64,
    /// All channels first, then each channel by name (the example's x1 and x2, the table's
    /// channels).
    pub groups: Vec<Group>,
    pub fits: Vec<ChannelFit>,
}

impl Report {
    fn new(opts: &Options, fits: Vec<ChannelFit>, seconds: f64) -> Report {
        let mut groups = vec![Group::of("all", &fits.iter().collect::<Vec<_>>())];
        if matches!(opts.source, Source::PymcExample | Source::BundledTable) {
            let mut by: BTreeMap<&str, Vec<&ChannelFit>> = BTreeMap::new();
            for f in &fits {
                by.entry(f.channel.as_str()).or_default().push(f);
            }
            groups.extend(by.iter().map(|(name, fs)| Group::of(name, fs)));
        }
        Report {
            source: opts.source,
            runs: opts.runs,
            noise: opts.noise,
            seconds,
            groups,
            fits,
        }
    }

    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }
}

/// Fits every dataset of `opts` (`progress(done, total)` after each); `root` is the folder
/// holding `data/mmm/` for the bundled table.
pub fn run(
    opts: &Options,
    root: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Report, String> {
    opts.params.validate().map_err(|e| e.to_string())?;
    let seeded = matches!(opts.source, Source::Generated | Source::PymcExample);
    if seeded && !(1..=10_000).contains(&opts.runs) {
        return Err("runs must be in 1..=10000".into());
    }
    if !(opts.noise.is_finite() && opts.noise >= 0.0) {
        return Err(format!("noise must be a number ≥ 0, got {}", opts.noise));
    }
    let t0 = std::time::Instant::now();
    let mut fits = Vec::new();
    match opts.source {
        Source::Generated => {
            for (k, seed) in (opts.first_seed..opts.first_seed + opts.runs).enumerate() {
                fits.extend(generated(seed, opts)?);
                progress(k as u64 + 1, opts.runs);
            }
        }
        Source::PymcExample => {
            for (k, seed) in (opts.first_seed..opts.first_seed + opts.runs).enumerate() {
                fits.extend(example(seed, opts)?);
                progress(k as u64 + 1, opts.runs);
            }
            if let Some(dir) = &opts.dump {
                let mut csv = String::from(
                    "seed,channel,true_share,true_roas,share,share_lo,share_hi,roas,seconds\n",
                );
                for f in &fits {
                    csv.push_str(&format!(
                        "{},{},{},{},{},{},{},{},{}\n",
                        f.seed,
                        f.channel,
                        f.true_share,
                        f.true_roas,
                        f.share,
                        f.share_lo,
                        f.share_hi,
                        f.roas,
                        f.seconds
                    ));
                }
                crate::fsutil::write_atomic(&dir.join("omnify.csv"), csv.as_bytes())
                    .map_err(|e| format!("{}: {e}", dir.display()))?;
            }
        }
        Source::BundledTable => {
            fits = bundled_table(root, &opts.params)?;
            progress(1, 1);
        }
        Source::Sample => fits = sample(root, &opts.params, progress)?,
    }
    Ok(Report::new(opts, fits, t0.elapsed().as_secs_f64()))
}

fn generated(seed: u64, opts: &Options) -> Result<Vec<ChannelFit>, String> {
    let (ds, truth) = generate(&SynthConfig {
        seed,
        noise: opts.noise,
        ..SynthConfig::default()
    });
    let media: Vec<Vec<f64>> = truth
        .iter()
        .zip(&ds.spend)
        .map(|(t, x)| {
            ChannelSpec {
                adstock: Adstock::Geometric { decay: t.decay },
                saturation: Saturation::Hill {
                    half_saturation: t.half_saturation,
                    shape: t.shape,
                },
            }
            .media(x)
        })
        .collect();
    let truth: Vec<Truth> = truth
        .iter()
        .map(|t| (t.name.clone(), t.contribution, t.share, t.roas))
        .collect();
    fit_against(seed, ds, &media, &truth, opts, "synth", "outcome")
}

fn example(seed: u64, opts: &Options) -> Result<Vec<ChannelFit>, String> {
    let (ds, truth) = pymc_example(seed, opts.noise);
    if let Some(dir) = &opts.dump {
        let mut csv = String::from("date_week,y,x1,x2,event_1,event_2,t\n");
        for t in 0..ds.dates.len() {
            csv.push_str(&format!(
                "{},{},{},{},{},{},{t}\n",
                ds.dates[t],
                ds.outcome[t],
                ds.spend[0][t],
                ds.spend[1][t],
                ds.events[0].1[t],
                ds.events[1].1[t]
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        crate::fsutil::write_atomic(&dir.join(format!("data_{seed}.csv")), csv.as_bytes())
            .map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let media: Vec<Vec<f64>> = truth.iter().map(|t| t.media.clone()).collect();
    let truth: Vec<Truth> = truth
        .iter()
        .map(|t| (t.name.clone(), t.contribution, t.share, t.roas))
        .collect();
    fit_against(seed, ds, &media, &truth, opts, "example", "y")
}

/// A channel's true (name, contribution, share, ROAS).
type Truth = (String, f64, f64, f64);

/// Fits `ds` and scores each channel against its truth, with the floor of least squares given
/// the true media columns.
fn fit_against(
    seed: u64,
    ds: Dataset,
    media: &[Vec<f64>],
    truth: &[Truth],
    opts: &Options,
    source: &str,
    outcome: &str,
) -> Result<Vec<ChannelFit>, String> {
    let shares: Vec<(f64, f64)> = truth.iter().map(|t| (t.1, t.2)).collect();
    let floor = floor_errors(&ds, media, &shares);
    let t0 = std::time::Instant::now();
    let model = train(&[ds], &opts.params, source, outcome).map_err(|e| e.to_string())?;
    let seconds = t0.elapsed().as_secs_f64();
    Ok(model
        .report()
        .iter()
        .zip(truth)
        .zip(floor)
        .map(|((r, t), f)| ChannelFit {
            seed,
            channel: t.0.clone(),
            true_share: t.2,
            true_roas: t.3,
            share: r.contribution_share,
            share_lo: r.contribution_share_lo,
            share_hi: r.contribution_share_hi,
            roas: r.roas,
            floor: Some(f),
            seconds,
        })
        .collect())
}

/// The bundled wide table (`data/mmm/mmm_weekly.csv`) against `data/mmm/mmm_truth.csv`.
fn bundled_table(root: &Path, params: &FitParams) -> Result<Vec<ChannelFit>, String> {
    let spec = series::WideSpec {
        date_col: "week".into(),
        outcome_col: "outcome".into(),
        spend_cols: (0..4).map(|i| format!("spend_ch{i}")).collect(),
        control_cols: vec![],
        event_cols: vec![],
        period: None,
    };
    let table = root.join("data/mmm/mmm_weekly.csv");
    let ds = series::read_wide(&table, &spec).map_err(|e| e.to_string())?;
    let t0 = std::time::Instant::now();
    let model = train(&[ds], params, "mmm_weekly.csv", "outcome").map_err(|e| e.to_string())?;
    let seconds = t0.elapsed().as_secs_f64();
    let truth_path = root.join("data/mmm/mmm_truth.csv");
    let mut rd = csv::Reader::from_path(&truth_path)
        .map_err(|e| format!("{}: {e}", truth_path.display()))?;
    let h = rd.headers().map_err(|e| e.to_string())?.clone();
    let idx = |name: &str| {
        h.iter()
            .position(|c| c == name)
            .ok_or_else(|| format!("{}: no column `{name}`", truth_path.display()))
    };
    let (ci, si, ri) = (idx("channel")?, idx("share")?, idx("roas")?);
    let mut truth = BTreeMap::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| e.to_string())?;
        let num = |i: usize| {
            rec[i]
                .parse::<f64>()
                .map_err(|e| format!("{}: {e}", truth_path.display()))
        };
        truth.insert(rec[ci].to_string(), (num(si)?, num(ri)?));
    }
    model
        .report()
        .iter()
        .map(|r| {
            let (share, roas) = truth
                .get(&r.entity)
                .ok_or_else(|| format!("{}: no truth for {}", truth_path.display(), r.entity))?;
            Ok(ChannelFit {
                seed: 0,
                channel: r.entity.clone(),
                true_share: *share,
                true_roas: *roas,
                share: r.contribution_share,
                share_lo: r.contribution_share_lo,
                share_hi: r.contribution_share_hi,
                roas: r.roas,
                floor: None,
                seconds,
            })
        })
        .collect()
}

/// The bundled sample's campaigns: ingested into a temporary warehouse, fitted per tenant
/// (the shipped series settings, `params` for the fit), against
/// `data/sample/truth/campaigns.csv.gz`. A campaign's "ROAS" error is that of its contribution.
fn sample(
    root: &Path,
    params: &FitParams,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Vec<ChannelFit>, String> {
    use std::io::Read;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let wh = crate::warehouse::Warehouse::open(dir.path().join("wh")).map_err(|e| e.to_string())?;
    let inputs = crate::ingest::read_manifest(&root.join("data/sample/manifest.json"))
        .map_err(|e| e.to_string())?;
    let rows = crate::ingest::load_all(&inputs, &crate::ingest::LoadOptions::default())
        .map_err(|e| e.to_string())?;
    wh.ingest(rows).map_err(|e| e.to_string())?;
    let truth_path = root.join("data/sample/truth/campaigns.csv.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(&truth_path).map_err(|e| format!("{}: {e}", truth_path.display()))?,
    )
    .read_to_string(&mut text)
    .map_err(|e| format!("{}: {e}", truth_path.display()))?;
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let h = rd.headers().map_err(|e| e.to_string())?.clone();
    let idx = |name: &str| {
        h.iter()
            .position(|c| c == name)
            .ok_or_else(|| format!("{}: no column `{name}`", truth_path.display()))
    };
    let (ti, pi, ci, vi) = (
        idx("tenant")?,
        idx("platform")?,
        idx("campaign_id")?,
        idx("true_contribution")?,
    );
    let mut truth = BTreeMap::new();
    for rec in rd.records() {
        let r = rec.map_err(|e| e.to_string())?;
        let v: f64 = r[vi]
            .parse()
            .map_err(|e| format!("{}: {e}", truth_path.display()))?;
        truth.insert((r[ti].to_string(), format!("{}/{}", &r[pi], &r[ci])), v);
    }
    let mut job = crate::bootstrap::budget_job()?;
    job.fit = params.clone();
    let tenants = crate::bootstrap::tenants(&wh)?;
    let mut fits = Vec::new();
    for (k, tenant) in tenants.iter().enumerate() {
        let (sets, outcome) = crate::budget::service::warehouse_datasets(&wh, tenant, &job)
            .map_err(|e| e.to_string())?;
        let t0 = std::time::Instant::now();
        let model = train(&sets, &job.fit, "warehouse", &outcome).map_err(|e| e.to_string())?;
        let seconds = t0.elapsed().as_secs_f64();
        let total = model.total_outcome();
        for r in model.report() {
            let Some(t) = truth.get(&(tenant.clone(), r.entity.clone())) else {
                continue;
            };
            // Shares from the contribution interval, so "covered" is the contribution's.
            fits.push(ChannelFit {
                seed: k as u64,
                channel: format!("{tenant}/{}", r.entity),
                true_share: t / total,
                true_roas: *t,
                share: r.contribution_share,
                share_lo: r.contribution_lo / total,
                share_hi: r.contribution_hi / total,
                roas: r.contribution,
                floor: None,
                seconds,
            });
        }
        progress(k as u64 + 1, tenants.len() as u64);
    }
    Ok(fits)
}

/// Least squares given the true media columns (only the coefficients and the baseline
/// estimated): the fit's baseline design plus `media`, each channel's (share error, relative
/// ROAS error) against its true (contribution, share).
fn floor_errors(ds: &Dataset, media: &[Vec<f64>], truth: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let spec = BaselineSpec::for_dataset(ds, true, 0, 2);
    let mut cols = spec.design(&ds.dates, None, Some(&ds.events));
    let nb = cols.len();
    cols.extend(media.iter().cloned());
    let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
    let coef = linalg::lstsq(&refs, &ds.outcome);
    let total_outcome: f64 = ds.outcome.iter().sum();
    media
        .iter()
        .zip(truth)
        .enumerate()
        .map(|(j, (m, (contribution, share)))| {
            let c = coef[nb + j] * m.iter().sum::<f64>();
            (
                (c / total_outcome - share).abs(),
                (c / contribution - 1.0).abs(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn medians_and_within_counts_by_hand() {
        let e = Errors::of(&[(0.005, 0.04), (0.02, 0.01), (0.008, 0.2), (0.001, 0.05)]);
        // Share errors sorted 0.001, 0.005, 0.008, 0.02 → (0.005 + 0.008) / 2; ROAS 0.01,
        // 0.04, 0.05, 0.2 → 0.045; within both: the first and the last.
        assert_eq!(e.channels, 4);
        assert!((e.median_share_error - 0.0065).abs() < 1e-15);
        assert!((e.median_roas_error - 0.045).abs() < 1e-15);
        assert_eq!(e.within, 2);
    }

    /// The generated-data figure at a size CI affords (10 datasets × 3 channels, 1% noise;
    /// the full run is 50 datasets at 1%, 2% and 5%): the 90% intervals cover most truths and
    /// the well-identified channels are within a point of share at the median, while the floor
    /// is below the fit.
    #[test]
    fn generated_data_recovery_meets_its_bounds() {
        let opts = Options {
            source: Source::Generated,
            runs: 10,
            first_seed: 1000,
            noise: 0.01,
            params: FitParams::default(),
            dump: None,
        };
        let r = run(&opts, root(), &mut |_, _| {}).unwrap();
        let all = r.group("all").unwrap();
        assert_eq!(all.fits, 30);
        assert!(
            (0.75..=1.0).contains(&all.coverage()),
            "coverage {}",
            all.coverage()
        );
        assert!(all.well_identified.channels >= 3, "{all:?}");
        assert!(all.well_identified.median_share_error <= 0.01, "{all:?}");
        assert!(all.well_identified.median_roas_error <= 0.075, "{all:?}");
        let floor = all.floor.unwrap();
        assert!(
            floor.median_share_error <= all.all.median_share_error,
            "{all:?}"
        );
    }

    /// The PyMC-Marketing example process at a size CI affords (10 seeds): x2 (weeks off) is
    /// recovered within a point at the median; x1 (always on) has wider intervals that still
    /// cover most truths.
    #[test]
    fn example_process_recovery_meets_its_bounds() {
        let opts = Options {
            source: Source::PymcExample,
            runs: 10,
            first_seed: 0,
            noise: 0.25,
            params: FitParams::default(),
            dump: None,
        };
        let r = run(&opts, root(), &mut |_, _| {}).unwrap();
        let x2 = r.group("x2").unwrap();
        let x1 = r.group("x1").unwrap();
        assert_eq!((x1.fits, x2.fits), (10, 10));
        assert!(x2.all.median_share_error <= 0.01, "{x2:?}");
        assert!(x2.all.median_roas_error <= 0.10, "{x2:?}");
        assert!(x1.covered >= 7 && x2.covered >= 6, "{x1:?} {x2:?}");
    }

    /// The bundled table: every 90% interval covers the true share; the paused channels are
    /// within 3.5 points, the never-pausing one within 8.
    #[test]
    fn bundled_table_recovery_meets_its_bounds() {
        let opts = Options {
            source: Source::BundledTable,
            runs: 1,
            first_seed: 0,
            noise: 0.0,
            params: crate::bootstrap::budget_job().unwrap().fit,
            dump: None,
        };
        let r = run(&opts, root(), &mut |_, _| {}).unwrap();
        assert_eq!(r.fits.len(), 4);
        for f in &r.fits {
            assert!(f.covered(), "{f:?}");
            assert!(f.errors().0 <= 0.08, "{f:?}");
        }
        let worst = r.fits.iter().filter(|f| f.errors().0 > 0.035).count();
        assert!(worst <= 1, "{:?}", r.fits);
    }

    /// The bundled sample's 48 campaigns: every campaign fitted and matched to its truth, the
    /// median share error under a point. (The simulator multiplies media by creative quality
    /// and season, which the additive model does not represent, so its intervals are too
    /// narrow: about two in three cover.)
    #[test]
    fn sample_campaign_recovery_meets_its_bounds() {
        let opts = Options {
            source: Source::Sample,
            runs: 1,
            first_seed: 0,
            noise: 0.0,
            params: crate::bootstrap::budget_job().unwrap().fit,
            dump: None,
        };
        let r = run(&opts, root(), &mut |_, _| {}).unwrap();
        let all = r.group("all").unwrap();
        assert_eq!(all.fits, 48);
        assert!(all.all.median_share_error <= 0.01, "{all:?}");
        assert!((0.55..=1.0).contains(&all.coverage()), "{all:?}");
    }
}
