#!/usr/bin/env python3
"""Fits PyMC-Marketing on the datasets OmniFy's recovery run wrote, for a side-by-side
comparison on identical data (docs/evaluation.md, "Budget recovery").

The datasets follow PyMC-Marketing's own example process (`omnify::budget::synth::pymc_example`).
Write them, with OmniFy's fits and the truth, by running

    ./scripts/run.sh evaluate budget-recovery --data pymc-example --runs 50 --dump /tmp/pymc-cmp

then, in a Python environment with PyMC-Marketing and nutpie installed
(`pip install pymc-marketing nutpie`; measured with pymc-marketing 0.19.2, pymc 5.28.5,
nutpie 0.16.8):

    python3 scripts/pymc_reference.py /tmp/pymc-cmp [SEEDS]

It fits the model of PyMC-Marketing's example notebook (geometric adstock over 8 weeks, logistic
saturation, the events and `t` as controls, two yearly Fourier modes, the notebook's priors) with
nutpie (4 chains, 1,000 tuning and 1,000 kept draws each), writes DIR/pymc.csv (posterior mean
share and ROAS, 90% share interval, seconds per fit) and prints both tools' errors against the
truth for the seeds it fitted. Not part of the test suite: PyMC-Marketing is not a dependency.
"""

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from pymc_extras.prior import Prior
from pymc_marketing.mmm import GeometricAdstock, LogisticSaturation
from pymc_marketing.mmm.multidimensional import MMM


def fit(path: Path, seed: int) -> list[dict]:
    data = pd.read_csv(path, parse_dates=["date_week"])
    channels = ["x1", "x2"]
    spend = data[channels].sum(axis=0)
    prior_sigma = len(channels) * (spend / spend.sum()).to_numpy()
    model_config = {
        "intercept": Prior("Normal", mu=0.5, sigma=0.2),
        "saturation_beta": Prior("HalfNormal", sigma=prior_sigma, dims="channel"),
        "gamma_control": Prior("Normal", mu=0, sigma=0.05, dims="control"),
        "gamma_fourier": Prior("Laplace", mu=0, b=0.2, dims="fourier_mode"),
        "likelihood": Prior("Normal", sigma=Prior("HalfNormal", sigma=6), dims="date"),
    }
    mmm = MMM(
        model_config=model_config,
        sampler_config={"progressbar": False},
        date_column="date_week",
        channel_columns=channels,
        control_columns=["event_1", "event_2", "t"],
        adstock=GeometricAdstock(l_max=8),
        saturation=LogisticSaturation(),
        yearly_seasonality=2,
    )
    X = data.drop(columns="y")
    y = data["y"]
    start = time.perf_counter()
    mmm.build_model(X, y)
    mmm.add_original_scale_contribution_variable(var=["channel_contribution"])
    mmm.fit(
        X,
        y,
        chains=4,
        tune=1000,
        draws=1000,
        nuts_sampler="nutpie",
        random_seed=seed,
    )
    seconds = time.perf_counter() - start
    post = mmm.idata.posterior["channel_contribution_original_scale"]
    total = post.sum(dim="date")  # (chain, draw, channel)
    rows = []
    for ch in channels:
        c = total.sel(channel=ch).to_numpy().ravel()
        share = c / y.sum()
        rows.append(
            {
                "seed": seed,
                "channel": ch,
                "share": float(share.mean()),
                "share_lo": float(np.quantile(share, 0.05)),
                "share_hi": float(np.quantile(share, 0.95)),
                "roas": float(c.mean() / data[ch].sum()),
                "seconds": seconds,
            }
        )
    return rows


def summary(errors: pd.DataFrame) -> str:
    within = ((errors["share_err"] <= 0.01) & (errors["roas_err"] <= 0.05)).sum()
    return (
        f"median share error {100 * errors['share_err'].median():.2f} points, "
        f"median ROAS error {100 * errors['roas_err'].median():.1f}%, "
        f"{within} of {len(errors)} within ±1 point and 5%, "
        f"90% intervals cover {errors['covered'].sum()}"
    )


def main() -> None:
    out = Path(sys.argv[1])
    truth = pd.read_csv(out / "omnify.csv")
    seeds = sorted(truth["seed"].unique())
    if len(sys.argv) > 2:
        seeds = seeds[: int(sys.argv[2])]
    rows = []
    for seed in seeds:
        rows.extend(fit(out / f"data_{seed}.csv", int(seed)))
        print(f"seed {seed}: {rows[-1]['seconds']:.1f} s", flush=True)
        pd.DataFrame(rows).to_csv(out / "pymc.csv", index=False)
    pymc = pd.DataFrame(rows)
    key = ["seed", "channel"]
    both = truth.merge(pymc, on=key, suffixes=("_omnify", "_pymc"))
    for tool in ["omnify", "pymc"]:
        print(f"{tool}: median seconds per fit {both[f'seconds_{tool}'].median():.2f}")
        for ch, g in both.groupby("channel"):
            errors = pd.DataFrame(
                {
                    "share_err": (g[f"share_{tool}"] - g["true_share"]).abs(),
                    "roas_err": (g[f"roas_{tool}"] / g["true_roas"] - 1).abs(),
                    "covered": (g[f"share_lo_{tool}"] <= g["true_share"])
                    & (g["true_share"] <= g[f"share_hi_{tool}"]),
                }
            )
            print(f"  {ch}: {summary(errors)}")


if __name__ == "__main__":
    main()
