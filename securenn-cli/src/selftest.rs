//! `securenn selftest`: the three parties share random tensors, compute on the shares,
//! reveal the results to named parties and check them against the plaintext.
//!
//! With `--transport local` the parties are three threads of this process; with
//! `--transport tcp` they are three child processes of this command that talk TCP on
//! 127.0.0.1, and each reports what it sent.

use std::time::Instant;

use securenn_dsl::dsl::{reveal_to, share};
use securenn_dsl::net::CallId;
use securenn_dsl::net::{ClusterStats, Stats};
use securenn_dsl::party::{P0, P1, Private, Role};
use securenn_dsl::prg::{Key, Prg, StreamId};
use securenn_dsl::ring::{Ring, Z64, ZOdd, Zp};
use securenn_dsl::session::{Session, run_local};
use securenn_dsl::share::{Public, Shared};
use securenn_dsl::tensor::Tensor;
use securenn_dsl::tensor::fixed;
use serde::{Deserialize, Serialize};
use typenum::{U0, U13};

use crate::processes::{ChildArgs, CliError, TransportKind, run_child, run_three_processes};
use crate::report::traffic_table;

/// Fractional bits of the test data.
const FRACTIONAL_BITS: u32 = 13;

/// Arguments of `securenn selftest`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where the parties run: three threads (`local`) or three processes over TCP (`tcp`).
    #[arg(long, value_enum, default_value_t = TransportKind::Local)]
    transport: TransportKind,
    /// Elements of each test tensor.
    #[arg(long, default_value_t = 100_000)]
    elements: usize,
    /// Print exactly one JSON object, on the last line.
    #[arg(long)]
    json: bool,
    /// Seed of the public test data (not of any key; keys always come from the OS).
    #[arg(long, default_value_t = 1)]
    data_seed: u64,
    #[command(flatten)]
    child: ChildArgs,
}

/// One check done by the party that received a revealed result.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Check {
    name: String,
    party: Role,
    elements: usize,
    passed: bool,
}

/// What one party did.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PartyReport {
    role: Role,
    checks: Vec<Check>,
    stats: Stats,
    seconds: f64,
}

/// Runs the self-test; `Ok(true)` if every check passed.
pub(crate) fn run(args: &Args) -> Result<bool, CliError> {
    if let Some(party) = args.child.party {
        let (elements, seed) = (args.elements, args.data_seed);
        let report = run_child(
            &args.child,
            party,
            false,
            securenn_dsl::session::SessionConfig::default(),
            async |session| Ok(program(session, elements, seed).await?),
        )?;
        return Ok(report.checks.iter().all(|c| c.passed));
    }
    let started = Instant::now();
    let reports = match args.transport {
        TransportKind::Local => {
            let (elements, seed) = (args.elements, args.data_seed);
            run_local(|session| program(session, elements, seed))?
        }
        TransportKind::Tcp => run_three(args)?,
    };
    let seconds = started.elapsed().as_secs_f64();
    Ok(print_summary(args, &reports, seconds))
}

/// The public test data, the same at every party (derived from the data seed).
struct TestData {
    /// P0's input, reals in [-10, 10).
    x: Vec<f64>,
    /// P1's input, reals in [-10, 10).
    y: Vec<f64>,
    /// A public tensor, reals in [-2, 2).
    c: Vec<f64>,
    /// P1's input over Z_67.
    zp: Vec<Zp>,
    /// P0's input over Z_2^64-1.
    zodd: Vec<ZOdd>,
}

impl TestData {
    fn new(seed: u64, elements: usize) -> TestData {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        let key = Key::from_bytes(key);
        let stream = |label| {
            Prg::derive(
                &key,
                StreamId {
                    call: CallId::ROOT.child(0),
                    label,
                },
            )
        };
        let reals = |prg: &mut Prg, half_width: f64| -> Vec<f64> {
            (0..elements)
                .map(|_| {
                    let unit = (Z64::random(prg).value() >> 11) as f64 / (1u64 << 53) as f64;
                    (unit * 2.0 - 1.0) * half_width
                })
                .collect()
        };
        let x = reals(&mut stream(0), 10.0);
        let y = reals(&mut stream(1), 10.0);
        let c = reals(&mut stream(2), 2.0);
        let mut zp = vec![Zp::ZERO; elements];
        Zp::fill_random(&mut stream(3), &mut zp);
        let mut zodd = vec![ZOdd::ZERO; elements];
        ZOdd::fill_random(&mut stream(4), &mut zodd);
        TestData { x, y, c, zp, zodd }
    }
}

/// The self-test program, run at each of the three parties.
async fn program(
    session: Session,
    elements: usize,
    seed: u64,
) -> securenn_dsl::Result<PartyReport> {
    let started = Instant::now();
    let role = session.role();
    let data = TestData::new(seed, elements);
    let shape = [elements];
    let encode = |values: &[f64]| fixed::encode_tensor(shape, values, FRACTIONAL_BITS);

    // Inputs: x from P0, y from P1, each secret-shared with fresh randomness.
    let x_in = Private::<P0, _>::try_new(role, || encode(&data.x))?;
    let y_in = Private::<P1, _>::try_new(role, || encode(&data.y))?;
    let x: Shared<Z64> = share(&session, &x_in, shape).await?;
    let y: Shared<Z64> = share(&session, &y_in, shape).await?;
    let c = Public::<Z64, U13>::encode(shape, &data.c)?;

    // Local arithmetic on the shares.
    let sum = x.try_add(&y)?;
    let difference = x.try_sub(&y)?;
    let negation = x.negate();
    let shifted = x.add_public(&c)?;
    let product = x.mul_public(&c)?.truncate::<U13>();

    // Reveal each result to one named party.
    let sum = reveal_to::<P0, _>(&session, &sum).await?;
    let difference = reveal_to::<P0, _>(&session, &difference).await?;
    let negation = reveal_to::<P1, _>(&session, &negation).await?;
    let shifted = reveal_to::<P1, _>(&session, &shifted).await?;
    let product = reveal_to::<P1, _>(&session, &product).await?;

    // The other rings: Z_67 from P1 to P0, Z_2^64-1 from P0 to P1.
    let zp_in = Private::<P1, _>::try_new(role, || Tensor::from_vec(shape, data.zp.clone()))?;
    let zp: Shared<Zp, U0> = share(&session, &zp_in, shape).await?;
    let zp = reveal_to::<P0, _>(&session, &zp).await?;
    let zodd_in = Private::<P0, _>::try_new(role, || Tensor::from_vec(shape, data.zodd.clone()))?;
    let zodd: Shared<ZOdd, U0> = share(&session, &zodd_in, shape).await?;
    let zodd = reveal_to::<P1, _>(&session, &zodd).await?;

    // Each receiver checks its results against the plaintext definition.
    let plain_x = encode(&data.x)?.into_data();
    let plain_y = encode(&data.y)?.into_data();
    let plain_c = c.tensor().data();
    let mut checks = Vec::new();
    let mut check = |name: &str,
                     revealed: Option<Tensor<Z64>>,
                     expected: &dyn Fn(usize) -> Z64,
                     tolerance: i64| {
        if let Some(tensor) = revealed {
            let passed = tensor
                .data()
                .iter()
                .enumerate()
                .all(|(i, &got)| (got - expected(i)).as_i64().abs() <= tolerance);
            checks.push(Check {
                name: name.to_owned(),
                party: role,
                elements,
                passed,
            });
        }
    };
    check("x + y", sum.into_inner(), &|i| plain_x[i] + plain_y[i], 0);
    check(
        "x - y",
        difference.into_inner(),
        &|i| plain_x[i] - plain_y[i],
        0,
    );
    check("-x", negation.into_inner(), &|i| -plain_x[i], 0);
    check(
        "x + c (public)",
        shifted.into_inner(),
        &|i| plain_x[i] + plain_c[i],
        0,
    );
    // Local truncation is exact up to one unit in the last place.
    check(
        "x * c (public), truncated",
        product.into_inner(),
        &|i| {
            let wide = i128::from(plain_x[i].as_i64()) * i128::from(plain_c[i].as_i64());
            #[allow(clippy::cast_possible_truncation, reason = "|x·c| < 2^40 here")]
            Z64::from_i64((wide >> FRACTIONAL_BITS) as i64)
        },
        1,
    );
    if let Some(tensor) = zp.into_inner() {
        checks.push(Check {
            name: "share/reveal over Z_67".to_owned(),
            party: role,
            elements,
            passed: tensor.data() == data.zp.as_slice(),
        });
    }
    if let Some(tensor) = zodd.into_inner() {
        checks.push(Check {
            name: "share/reveal over Z_2^64-1".to_owned(),
            party: role,
            elements,
            passed: tensor.data() == data.zodd.as_slice(),
        });
    }
    Ok(PartyReport {
        role,
        checks,
        stats: session.stats(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The summary as a table (and, with `--json`, one JSON line); whether all checks passed.
#[allow(
    clippy::print_stdout,
    reason = "a command-line tool prints its results"
)]
fn print_summary(args: &Args, reports: &[PartyReport; 3], seconds: f64) -> bool {
    let cluster = ClusterStats::from_parties(&reports.each_ref().map(|r| r.stats));
    let checks: Vec<&Check> = reports.iter().flat_map(|r| &r.checks).collect();
    let passed = !checks.is_empty() && checks.iter().all(|c| c.passed) && cluster.is_consistent();
    let transport = match args.transport {
        TransportKind::Local => "local (three threads, in-memory)",
        TransportKind::Tcp => "tcp (three processes on 127.0.0.1)",
    };
    println!(
        "securenn selftest: {} elements per tensor, transport {transport}",
        args.elements
    );
    for check in &checks {
        let verdict = if check.passed { "ok" } else { "FAILED" };
        println!("  {:<30} checked at {}  {verdict}", check.name, check.party);
    }
    print!("{}", traffic_table(&cluster));
    for report in reports {
        println!(
            "  {} sent {} bytes in {} messages, received {} bytes, {:.3} s",
            report.role,
            report.stats.total_sent(),
            report.stats.messages_sent.iter().sum::<u64>(),
            report.stats.total_received(),
            report.seconds
        );
    }
    println!("{}", if passed { "PASS" } else { "FAIL" });
    if args.json {
        let summary = serde_json::json!({
            "command": "selftest",
            "transport": args.transport,
            "elements": args.elements,
            "seconds": seconds,
            "bytes_sent": Role::ALL.map(|r| cluster.sent_by(r)),
            "bytes_total": cluster.total_bytes(),
            "rounds": cluster.rounds,
            "checks": checks.len(),
            "passed": passed,
        });
        println!("{summary}");
    }
    passed
}

/// The parent of a TCP self-test: three child processes, one per party.
fn run_three(args: &Args) -> Result<[PartyReport; 3], CliError> {
    run_three_processes(
        &[
            "selftest".to_owned(),
            "--elements".to_owned(),
            args.elements.to_string(),
            "--data-seed".to_owned(),
            args.data_seed.to_string(),
        ],
        false,
    )
}
