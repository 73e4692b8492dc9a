//! Go's float semantics where they differ from Rust's, so results match Prometheus bit for bit.

#![allow(
    clippy::excessive_precision,
    reason = "constants as Go's sources write them (they round to the same doubles)"
)]
#![allow(clippy::many_single_char_names, reason = "names as in Go's sources")]

/// Go's `math.Max`: `+Inf` wins over NaN, NaN over numbers, `+0` over `-0` (Rust's `f64::max`
/// returns the number when the other is NaN).
pub(crate) fn max(x: f64, y: f64) -> f64 {
    extreme(x, y, f64::INFINITY)
}

/// Go's `math.Min`: `-Inf` wins over NaN, NaN over numbers, `-0` over `+0`.
pub(crate) fn min(x: f64, y: f64) -> f64 {
    extreme(x, y, f64::NEG_INFINITY)
}

/// `math.Max` toward `+Inf`, `math.Min` toward `-Inf`: Go's two functions are mirror images.
/// The infinity `toward` wins over NaN, NaN over numbers, of two zeros the one signed as
/// `toward`, else the number further toward it.
fn extreme(x: f64, y: f64, toward: f64) -> f64 {
    let up = toward > 0.0;
    if x == toward || y == toward {
        toward
    } else if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x == 0.0 && x == y {
        if x.is_sign_negative() == up { y } else { x }
    } else if (x > y) == up {
        x
    } else {
        y
    }
}

/// Go's `math.Pow` (pure Go on amd64): its special cases, `y == ±0.5` as a square root,
/// the integer part of `y` by repeated squaring with `Frexp`/`Ldexp` scaling (so `x ^ 2`,
/// `x ^ 3`… give Prometheus's bits, not the correctly rounded power), and the fractional
/// part as `Exp(yf × Log(x))` with Go's amd64 `Exp` and `Log` (ported below).
pub(crate) fn pow(x: f64, y: f64) -> f64 {
    let odd_int =
        |v: f64| v.abs() < 9_007_199_254_740_992.0 && v.fract() == 0.0 && (v as i64) & 1 == 1;
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if y == 1.0 {
        return x;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 {
        let neg_odd = x.is_sign_negative() && odd_int(y);
        return if y < 0.0 {
            if neg_odd {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        } else if neg_odd {
            x
        } else {
            0.0
        };
    }
    if y.is_infinite() {
        return huge_power(x, y);
    }
    if x.is_infinite() {
        if x < 0.0 {
            return pow(1.0 / x, -y);
        }
        return if y < 0.0 { 0.0 } else { f64::INFINITY };
    }
    if y == 0.5 {
        return x.sqrt();
    }
    if y == -0.5 {
        return 1.0 / x.sqrt();
    }
    let mut yi = y.abs().trunc();
    let mut yf = y.abs() - yi;
    if yf != 0.0 && x < 0.0 {
        return f64::NAN;
    }
    if yi >= 9.223_372_036_854_775_808e18 {
        // A large even integer: overflows (or underflows to 0) for every x but -1 (and 1,
        // handled above).
        return huge_power(x, y);
    }
    let mut a1 = 1.0;
    let mut ae: i64 = 0;
    if yf != 0.0 {
        if yf > 0.5 {
            yf -= 1.0;
            yi += 1.0;
        }
        a1 = exp(yf * log(x));
    }
    let (mut x1, mut xe) = frexp(x);
    let mut i = yi as i64;
    while i != 0 {
        if !(-(1 << 12)..=(1 << 12)).contains(&xe) {
            ae += xe;
            break;
        }
        if i & 1 == 1 {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe <<= 1;
        if x1 < 0.5 {
            x1 += x1;
            xe -= 1;
        }
        i >>= 1;
    }
    if y < 0.0 {
        a1 = 1.0 / a1;
        ae = -ae;
    }
    ldexp(a1, ae)
}

/// `x ^ y` for `|y|` infinite or at least 2^63, as Go's `Pow` gives it in both cases: 1 for
/// `x = -1`, 0 when `|x| < 1` and `y > 0` or `|x| > 1` and `y < 0`, `+Inf` otherwise.
fn huge_power(x: f64, y: f64) -> f64 {
    if x == -1.0 {
        1.0
    } else if (x.abs() < 1.0) == (y > 0.0) {
        0.0
    } else {
        f64::INFINITY
    }
}

/// Go's `math.Exp` on amd64 (`exp_amd64.s`, after Shibata's SLEEF): argument reduction by
/// `ln 2`, a Taylor series of `x/16`, four squarings; fused multiply-adds when the CPU has
/// AVX and FMA, as Go's runtime check chooses.
pub(crate) fn exp(x: f64) -> f64 {
    const LN2U: f64 = 0.693_147_180_559_662_956_5;
    const LN2L: f64 = 0.282_352_905_630_315_771_2e-12;
    const OVERFLOW: f64 = 7.097_827_128_933_84e2;
    const C: [f64; 7] = [
        2.480_158_730_158_730_158_7e-5,
        1.984_126_984_126_984_127_0e-4,
        1.388_888_888_888_888_888_9e-3,
        8.333_333_333_333_333_333_3e-3,
        4.166_666_666_666_666_666_7e-2,
        1.666_666_666_666_666_666_7e-1,
        0.5,
    ];
    let bits = x.to_bits();
    if bits & !(1 << 63) >= f64::INFINITY.to_bits() {
        return if x == f64::NEG_INFINITY { 0.0 } else { x };
    }
    if x > OVERFLOW {
        return f64::INFINITY;
    }
    // CVTSD2SL: round to nearest even; out of range gives i32::MIN (which underflows below).
    let k = (std::f64::consts::LOG2_E * x).round_ties_even();
    let k = if (-2_147_483_648.0..2_147_483_648.0).contains(&k) {
        k as i32
    } else {
        i32::MIN
    };
    let kf = f64::from(k);
    let mut r;
    if has_fma() {
        r = (-kf).mul_add(LN2U, x);
        r = (-kf).mul_add(LN2L, r);
        r *= 0.0625;
        let mut t = C[0];
        for c in &C[1..] {
            t = t.mul_add(r, *c);
        }
        t = t.mul_add(r, 1.0);
        r *= t;
        for _ in 0..3 {
            let u = r + 2.0;
            r *= u;
        }
        let u = r + 2.0;
        r = r.mul_add(u, 1.0);
    } else {
        r = x - kf * LN2U;
        r -= kf * LN2L;
        r *= 0.0625;
        let mut t = C[0] * r;
        for c in &C[1..] {
            t = (t + c) * r;
        }
        t += 1.0;
        r *= t;
        for _ in 0..4 {
            let u = 2.0 + r;
            r *= u;
        }
        r += 1.0;
    }
    let e = i64::from(k) + 1023;
    if e <= 0 {
        return 0.0;
    }
    if e >= 0x7ff {
        return f64::INFINITY;
    }
    r * f64::from_bits((e as u64) << 52)
}

/// Go's `math.Log` on amd64 (`log_amd64.s`, FreeBSD's `e_log.c` in SSE): subnormals are not
/// normalized, and the mantissa is halved when it is at most √2/2.
pub(crate) fn log(x: f64) -> f64 {
    const LN2HI: f64 = 6.931_471_803_691_238_164_90e-1;
    const LN2LO: f64 = 1.908_214_929_270_587_700_02e-10;
    const L: [f64; 7] = [
        6.666_666_666_666_735_130e-1,
        3.999_999_999_940_941_908e-1,
        2.857_142_874_366_239_149e-1,
        2.222_219_843_214_978_396e-1,
        1.818_357_216_161_805_012e-1,
        1.531_383_769_920_937_332e-1,
        1.479_819_860_511_658_591e-1,
    ];
    let bits = x.to_bits();
    if bits & !(1 << 63) == 0 {
        return f64::NEG_INFINITY;
    }
    if bits.cast_signed() < 0 {
        return f64::NAN;
    }
    if bits >= f64::INFINITY.to_bits() {
        return x;
    }
    let mut f1 = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0.5f64.to_bits());
    let mut k = f64::from(((bits >> 52) & 0x7ff) as i32 - 0x3fe);
    if f1 <= std::f64::consts::FRAC_1_SQRT_2 {
        k -= 1.0;
        f1 *= 2.0;
    }
    let f = f1 - 1.0;
    let s = f / (2.0 + f);
    let s2 = s * s;
    let s4 = s2 * s2;
    let t1 = s2 * (((L[6] * s4 + L[4]) * s4 + L[2]) * s4 + L[0]);
    let t2 = s4 * ((L[5] * s4 + L[3]) * s4 + L[1]);
    let r = t1 + t2;
    let hfsq = 0.5 * f * f;
    let inner = s * (r + hfsq) + LN2LO * k;
    k * LN2HI - ((hfsq - inner) - f)
}

/// Whether Go would take `Exp`'s fused multiply-add path (`cpu.X86.HasAVX && HasFMA`).
fn has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

const SHIFT: u32 = 52;
const MASK: u64 = 0x7ff;
const BIAS: i64 = 1023;

/// Go's `normalize`: a subnormal scaled into the normal range.
fn normalize(x: f64) -> (f64, i64) {
    if x.abs() < f64::MIN_POSITIVE {
        (x * (1u64 << 52) as f64, -52)
    } else {
        (x, 0)
    }
}

/// Go's `math.Frexp`: `x = frac × 2^exp` with `|frac|` in `[0.5, 1)`.
pub(crate) fn frexp(x: f64) -> (f64, i64) {
    if x == 0.0 || x.is_infinite() || x.is_nan() {
        return (x, 0);
    }
    let (f, mut exp) = normalize(x);
    let mut bits = f.to_bits();
    exp += ((bits >> SHIFT) & MASK).cast_signed() - BIAS + 1;
    bits &= !(MASK << SHIFT);
    bits |= ((BIAS - 1) as u64) << SHIFT;
    (f64::from_bits(bits), exp)
}

/// Go's `math.Ldexp`: `frac × 2^exp`, rounding into subnormals as Go does.
pub(crate) fn ldexp(frac: f64, exp: i64) -> f64 {
    if frac == 0.0 || frac.is_infinite() || frac.is_nan() {
        return frac;
    }
    let (f, e) = normalize(frac);
    let mut exp = exp.saturating_add(e);
    let mut bits = f.to_bits();
    exp = exp.saturating_add(((bits >> SHIFT) & MASK).cast_signed() - BIAS);
    if exp < -1075 {
        return 0.0f64.copysign(f);
    }
    if exp > 1023 {
        return if f < 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    let mut m = 1.0;
    if exp < -1022 {
        exp += 53;
        m = 1.0 / (1u64 << 53) as f64;
    }
    bits &= !(MASK << SHIFT);
    bits |= ((exp + BIAS) as u64) << SHIFT;
    m * f64::from_bits(bits)
}

/// Prometheus's `kahanSumInc` (Neumaier's improvement of Kahan summation).
pub(crate) fn kahan_sum_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest decimal that reads back as `v`,
/// without exponent; `NaN`, `+Inf`, `-Inf`.
pub(crate) fn format_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// Go's `float64(d) / 1e9` for a duration of `ms` milliseconds, as `time.Duration.Seconds`
/// computes it (whole seconds plus the fraction).
pub(crate) fn seconds(ms: i64) -> f64 {
    let nanos = i128::from(ms) * 1_000_000;
    let sec = nanos / 1_000_000_000;
    let nsec = nanos % 1_000_000_000;
    sec as f64 + nsec as f64 / 1e9
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn go_max_min_special_cases() {
        assert_eq!(max(1.0, f64::NAN).to_bits(), f64::NAN.to_bits());
        assert_eq!(max(f64::NAN, f64::INFINITY), f64::INFINITY);
        assert!(max(-0.0, 0.0).is_sign_positive());
        assert!(min(-0.0, 0.0).is_sign_negative());
        assert_eq!(min(f64::NAN, f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert!(min(f64::NAN, 1.0).is_nan());
        assert_eq!((max(1.0, 2.0), min(1.0, 2.0)), (2.0, 1.0));
        assert_eq!((max(2.0, 1.0), min(2.0, 1.0)), (2.0, 1.0));
        assert!(max(0.0, -0.0).is_sign_positive());
        assert!(min(0.0, -0.0).is_sign_negative());
        assert_eq!(
            max(f64::NEG_INFINITY, f64::NAN).to_bits(),
            f64::NAN.to_bits()
        );
        assert_eq!(min(f64::INFINITY, f64::NAN).to_bits(), f64::NAN.to_bits());
    }

    #[test]
    fn formatting_and_durations() {
        assert_eq!(format_f(1e21), "1000000000000000000000");
        assert_eq!(format_f(0.1), "0.1");
        assert_eq!(format_f(-0.0), "-0");
        assert_eq!(format_f(f64::INFINITY), "+Inf");
        assert_eq!(seconds(300_000), 300.0);
        assert_eq!(seconds(1), 0.001);
        assert_eq!(seconds(-1500), -1.5);
    }

    #[test]
    fn go_pow() {
        // Integer powers by repeated squaring: x³ = x·x² with two roundings, as Go does.
        let x = 2.799_999_999_999_999_7_f64;
        assert_eq!(pow(x, 3.0), x * (x * x));
        assert_eq!(pow(4.0, 0.5), 2.0);
        assert_eq!(pow(7.0, -0.5), 1.0 / 7.0f64.sqrt());
        assert_eq!(pow(2.0, -2.0), 0.25);
        assert_eq!(pow(-8.0, 1.0 / 3.0).to_bits(), f64::NAN.to_bits());
        assert_eq!(pow(-0.0, -3.0), f64::NEG_INFINITY);
        assert_eq!(pow(-1.0, f64::INFINITY), 1.0);
        assert_eq!(pow(f64::NEG_INFINITY, 3.0), f64::NEG_INFINITY);
        assert_eq!(pow(2.0, 1e300), f64::INFINITY);
        assert_eq!(pow(0.5, 1e300), 0.0);
        assert_eq!(pow(0.5, -1e300), f64::INFINITY);
        assert_eq!(pow(-1.0, 1e300), 1.0);
        assert_eq!(pow(2.0, f64::NEG_INFINITY), 0.0);
        assert_eq!(pow(0.5, f64::NEG_INFINITY), f64::INFINITY);
        assert_eq!(pow(2.0, -1074.0), 5e-324);
        assert_eq!(pow(1.0, f64::NAN), 1.0);
        assert!((pow(10.0, 2.5) - 10.0f64.powf(2.5)).abs() < 1e-12);
    }

    #[test]
    fn go_exp_and_log() {
        for x in [0.0, 1.0, -1.0, 0.5, 10.0, -700.2, 709.0, 1e-10] {
            assert!(
                (exp(x) - x.exp()).abs() <= 4.0 * f64::EPSILON * x.exp(),
                "{x}"
            );
        }
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp(710.0), f64::INFINITY);
        assert!(exp(f64::NAN).is_nan());
        for x in [1.0, 2.0, 0.1, 1e300, 3e-300, 123.456] {
            assert!(
                (log(x) - x.ln()).abs() <= 4.0 * f64::EPSILON * x.ln().abs().max(1e-300),
                "{x}"
            );
        }
        assert_eq!(log(0.0), f64::NEG_INFINITY);
        assert!(log(-1.0).is_nan());
        assert_eq!(log(1.0), 0.0);
    }

    #[test]
    fn frexp_ldexp() {
        assert_eq!(frexp(8.0), (0.5, 4));
        assert_eq!(frexp(5e-324), (0.5, -1073));
        assert_eq!(ldexp(0.5, 4), 8.0);
        assert_eq!(ldexp(0.5, -1073), 5e-324);
        assert_eq!(ldexp(1.0, 2000), f64::INFINITY);
        assert_eq!(ldexp(-1.0, -2000), -0.0);
    }

    #[test]
    fn kahan() {
        let (mut s, mut c) = (0.0, 0.0);
        for v in [1e16, 1.0, -1e16] {
            (s, c) = kahan_sum_inc(v, s, c);
        }
        assert_eq!(s + c, 1.0);
    }
}
