/*
 * floatfmt.c - floats written as printf("%.9g") writes them, exactly and fast (see jsonw.h).
 */
#include "cpu.h"
#include "jsonw_impl.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- floats ------------------------------------------------------------------------ */

/*
 * jw_format_float_digits writes exactly what glibc's snprintf("%.<p>g") writes (the
 * exact binary value correctly rounded to p digits, ties to even) at a fraction of its
 * cost: a response of every hidden state and attention map holds over a million floats,
 * and snprintf (or log10 to find the exponent) was most of its time.
 *
 * |v| = m 2^e exactly (m < 2^24). With E the decimal exponent of |v| and s = p - 1 - E,
 * the p digits are q = round(m 2^e 10^s) in [10^(p-1), 10^p], computed in integers:
 *   s >= 0:  m 5^s / 2^k (10^s = 5^s 2^s, the 2^s joining 2^e: k = -(e + s)), the bits
 *            shifted out telling how to round. One 64-bit multiply for |v| from 1e-9 to
 *            about 1e7 at 9 digits, where hidden states and attention weights are
 *            (format_float); up to 152 bits below that (scale_floor);
 *   s < 0:   m 2^e / 10^-s, a division (only |v| >= 10^p, rare at 9 digits).
 * Then the 9 digits at once (eight_digits) and the point put in (format_float).
 */

typedef unsigned __int128 u128;

/* 5^k for k in [0, 27] (5^27 < 2^63). */
static const uint64_t POW5[28] = {1ull,
                                  5ull,
                                  25ull,
                                  125ull,
                                  625ull,
                                  3125ull,
                                  15625ull,
                                  78125ull,
                                  390625ull,
                                  1953125ull,
                                  9765625ull,
                                  48828125ull,
                                  244140625ull,
                                  1220703125ull,
                                  6103515625ull,
                                  30517578125ull,
                                  152587890625ull,
                                  762939453125ull,
                                  3814697265625ull,
                                  19073486328125ull,
                                  95367431640625ull,
                                  476837158203125ull,
                                  2384185791015625ull,
                                  11920928955078125ull,
                                  59604644775390625ull,
                                  298023223876953125ull,
                                  1490116119384765625ull,
                                  7450580596923828125ull};

/* 10^k for k in [0, 19]. */
static const uint64_t POW10U[20] = {1ull,
                                    10ull,
                                    100ull,
                                    1000ull,
                                    10000ull,
                                    100000ull,
                                    1000000ull,
                                    10000000ull,
                                    100000000ull,
                                    1000000000ull,
                                    10000000000ull,
                                    100000000000ull,
                                    1000000000000ull,
                                    10000000000000ull,
                                    100000000000000ull,
                                    1000000000000000ull,
                                    10000000000000000ull,
                                    100000000000000000ull,
                                    1000000000000000000ull,
                                    10000000000000000000ull};

/* 10^k as doubles for k in [-46, 39] (POW10D[k + 46]), the literals correctly rounded.
 * Comparing a float (exact in a double) against them is comparing it against 10^k
 * exactly: no float lies between 10^k and its double in this range (checked with
 * exact rationals when the table was written; the tests format the floats on either
 * side of every power of ten). */
static const double POW10D[86] = {
    1e-46, 1e-45, 1e-44, 1e-43, 1e-42, 1e-41, 1e-40, 1e-39, 1e-38, 1e-37, 1e-36, 1e-35, 1e-34,
    1e-33, 1e-32, 1e-31, 1e-30, 1e-29, 1e-28, 1e-27, 1e-26, 1e-25, 1e-24, 1e-23, 1e-22, 1e-21,
    1e-20, 1e-19, 1e-18, 1e-17, 1e-16, 1e-15, 1e-14, 1e-13, 1e-12, 1e-11, 1e-10, 1e-9,  1e-8,
    1e-7,  1e-6,  1e-5,  1e-4,  1e-3,  1e-2,  1e-1,  1e0,   1e1,   1e2,   1e3,   1e4,   1e5,
    1e6,   1e7,   1e8,   1e9,   1e10,  1e11,  1e12,  1e13,  1e14,  1e15,  1e16,  1e17,  1e18,
    1e19,  1e20,  1e21,  1e22,  1e23,  1e24,  1e25,  1e26,  1e27,  1e28,  1e29,  1e30,  1e31,
    1e32,  1e33,  1e34,  1e35,  1e36,  1e37,  1e38,  1e39};

/* "00" "01" ... "99", for the exponent. */
static const char DIGITS2[] = "00010203040506070809101112131415161718192021222324"
                              "25262728293031323334353637383940414243444546474849"
                              "50515253545556575859606162636465666768697071727374"
                              "75767778798081828384858687888990919293949596979899";

/* Where a remainder lies against half the divisor: -1 below, 0 at, 1 above. */
static inline int vs_half_u128(u128 r, u128 den)
{
    u128 rest = den - r;
    return r < rest ? -1 : r > rest;
}

/* floor(m 2^e 10^s), with *half saying where the dropped part lies against 1/2. The
 * result must be below 2^64 (it is below 10^(p+1) for the s used here). */
static uint64_t scale_floor(uint32_t m, int e, int s, int *half)
{
    if (s < 0) { /* m 2^e / 10^-s, both as integers */
        int n = -s;
        if (n > 38) { /* 10^n > 2^128 > |v|: only a too-large guess of E gets here */
            *half = -1;
            return 0;
        }
        u128 d = n < 20 ? (u128)POW10U[n] : (u128)POW10U[19] * POW10U[n - 19];
        u128 num = m, den = d;
        if (e >= 0) num <<= e;              /* m 2^e < 2^128 for every float */
        else den <<= -e;                    /* here |v| >= 10, so -e <= 20 and d <= 10^7 */
        if (!(num >> 64) && !(den >> 64)) { /* the common case: 64-bit division */
            uint64_t a = (uint64_t)num, b = (uint64_t)den, q = a / b, r = a % b;
            *half = r < b - r ? -1 : r > b - r;
            return q;
        }
        u128 q = num / den;
        *half = vs_half_u128(num - q * den, den);
        return (uint64_t)q;
    }
    int k = -(e + s);                  /* m 10^s 2^e = m 5^s / 2^k */
    if (s <= 27 && k > 0 && k < 128) { /* |v| from 1e-19 up at 9 digits */
        u128 prod = (u128)m * POW5[s], low = prod & (((u128)1 << k) - 1);
        *half = vs_half_u128(low, (u128)1 << k);
        return (uint64_t)(prod >> k);
    }
    if (k <= 0) { /* a whole number, m 5^s 2^-k: only |v| >= 2^21 with s <= 2 gets here */
        *half = -1;
        return ((uint64_t)m * POW5[s]) << -k;
    }
    /* Tiny |v|: 5^s takes two words; the product m 5^s = hi 2^64 + lo, hi < 2^89. */
    u128 p5 = s <= 27 ? (u128)POW5[s] : (u128)POW5[27] * POW5[s - 27]; /* s <= 54 */
    u128 t0 = (u128)m * (uint64_t)p5;
    u128 hi = (u128)m * (uint64_t)(p5 >> 64) + (t0 >> 64);
    uint64_t lo = (uint64_t)t0;
    if (k < 64) {
        uint64_t low = lo & (((uint64_t)1 << k) - 1), h = (uint64_t)1 << (k - 1);
        *half = low < h ? -1 : low > h;
        return (uint64_t)((hi << (64 - k)) | (lo >> k));
    }
    int j = k - 64; /* k = -e - s <= 149, so j < 128 */
    if (j == 0) {
        *half = lo < (uint64_t)1 << 63 ? -1 : lo > (uint64_t)1 << 63;
        return (uint64_t)hi;
    }
    u128 rh = hi & (((u128)1 << j) - 1), h = (u128)1 << (j - 1);
    *half = rh < h ? -1 : rh > h ? 1 : lo != 0;
    return (uint64_t)(hi >> j);
}

/* q rounded from m 2^e 10^(p-1-E) to nearest, ties to even, in [10^(p-1), 10^p], and
 * E corrected if it was off: the general path, for the values the 64-bit one in
 * format_float leaves (tiny, huge, or a wrong E). */
static __attribute__((noinline)) uint64_t round_digits_slow(uint32_t m, int e, int p, int *E)
{
    const uint64_t lo = POW10U[p - 1], hi = POW10U[p];
    int half;
    uint64_t q = scale_floor(m, e, p - 1 - *E, &half);
    /* Never taken (checked for every float when this was written): the comparison that
     * found E is exact. Kept so that a wrong table entry costs time, not a wrong digit. */
    if (q >= hi) q = scale_floor(m, e, p - 1 - ++*E, &half);
    else if (q < lo) q = scale_floor(m, e, p - 1 - --*E, &half);
    if (half > 0 || (half == 0 && (q & 1))) q++;
    return q;
}

/* The 8 decimal digits of v < 10^8 as one word, 0..9 per byte, the first digit in the
 * lowest byte: v splits into two 4-digit halves, each half into two 2-digit pairs,
 * each pair into two digits, every step on all lanes at once with a multiply by a
 * reciprocal (x * 10486 >> 20 is x / 100 for x < 10^4, x * 103 >> 10 is x / 10 for
 * x < 100). No table, no chain of eight divisions. */
static inline uint64_t eight_digits(uint32_t v)
{
    uint64_t x = v / 10000 | (uint64_t)(v % 10000) << 32;
    uint64_t y = (x * 10486) >> 20 & 0x0000007f0000007full;
    x = (x - y * 100) << 16 | y;
    y = (x * 103) >> 10 & 0x000f000f000f000full;
    return (x - y * 10) << 8 | y;
}

/* Stores the 8 bytes of a word at o, its lowest byte first whatever the host's order. */
static inline void store_le64(char *o, uint64_t x)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    memcpy(o, &x, 8);
}

/* jw_format_float_digits, inlined into the loop that writes rows (where p = 9 becomes a
 * constant). */
static inline __attribute__((always_inline)) size_t format_float(float v, int p, char *out)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    char *o = out;
    *o = '-'; /* -0 too, as printf writes it; no branch: hidden states' signs are random */
    o += bits >> 31;
    bits &= 0x7fffffffu;
    if (bits == 0) {
        *o++ = '0';
        *o = '\0';
        return (size_t)(o - out);
    }
    /* |v| = m 2^e; b = floor(log2 |v|). */
    uint32_t m;
    int e, b;
    if (bits >> 23) {
        m = (bits & 0x7fffffu) | 0x800000u;
        e = (int)(bits >> 23) - 150;
        b = e + 23;
    } else { /* subnormal */
        m = bits;
        e = -149;
        b = e + 31 - __builtin_clz(m);
    }
    /* E = floor(log10 |v|): b log10(2) (1233 / 4096 is close enough for |b| < 150),
     * then one exact comparison decides between it and the next. */
    int E = (b * 1233) >> 12; /* >> of a negative int is arithmetic in GCC and Clang */
    E += (double)fabsf(v) >= POW10D[E + 1 + 46]; /* no branch: it goes either way */

    /* q = the p digits, m 5^s / 2^k rounded (s = p - 1 - E, k = -(e + s)). In 64 bits
     * when 5^s < 2^40 and the shift is a real one: |v| from 1e-9 to about 1e7 at 9
     * digits. */
    const uint64_t lo = POW10U[p - 1], hi = POW10U[p];
    int s = p - 1 - E, k = -(e + s);
    uint64_t q;
    if (s >= 0 && s <= 17 && k > 0 && k < 64) {
        uint64_t prod = m * POW5[s], dropped = prod & (((uint64_t)1 << k) - 1);
        q = prod >> k;
        /* Up past one half, or at one half to an even q. */
        if (q >= lo && q < hi) q += dropped + (q & 1) > (uint64_t)1 << (k - 1);
        else q = round_digits_slow(m, e, p, &E); /* a wrong E: never */
    } else q = round_digits_slow(m, e, p, &E);
    if (q == hi) { /* rounding carried into a new digit: 9.9999999e-5 -> 1e-4 */
        q = lo;
        E++;
    }
    /* The digits as 9 (trailing zeros fill "100"): the first, and 8 in a word. nd counts
     * those kept once trailing zeros are dropped; the first is never 0. */
    uint32_t q9 = (uint32_t)(q * POW10U[9 - p]);
    char first = (char)('0' + q9 / 100000000);
    uint64_t rest = eight_digits(q9 % 100000000);
    int nd = rest ? 9 - __builtin_clzll(rest) / 8 : 1;
    rest += 0x3030303030303030ull; /* to ASCII */

    /* Each form is the digits with a point put in, or zeros first: "1.5e-05",
     * "12.5", "100" (the point would be last: none), "0.0078125". The point goes in
     * by shifting the word, not by moving bytes in memory (a load of bytes just stored
     * one by one waits for them). At most 16 bytes from `out` are written (the NUL
     * included), text or not: the 16 per float that jw_floats reserves. */
    bool sci = E < -4 || E >= p;
    if (!sci && E < 0) { /* 0.000ddd */
        int lead = -E;
        memcpy(o, "0.000000", 8);
        o[lead + 1] = first;
        store_le64(o + lead + 2, rest);
        o += 1 + lead + nd;
    } else {
        int point = sci ? 1 : E + 1; /* digits before the point */
        o[0] = first;
        if (nd > point) { /* point <= 8: the word's first point-1 bytes, '.', the rest */
            uint64_t low = ((uint64_t)1 << (8 * (point - 1))) - 1;
            store_le64(o + 1,
                       (rest & low) | (uint64_t)'.' << (8 * (point - 1)) | (rest & ~low) << 8);
            o[9] = (char)(rest >> 56);
            o += nd + 1;
        } else {
            store_le64(o + 1, rest);
            o += point;
        }
    }
    if (sci) {
        *o++ = 'e';
        *o++ = E < 0 ? '-' : '+';
        memcpy(o, DIGITS2 + 2 * (E < 0 ? -E : E), 2); /* |E| <= 45 */
        o += 2;
    }
    *o = '\0';
    return (size_t)(o - out);
}

size_t jw_format_float_digits(float v, int p, char *out)
{
    if (p < 1 || p > 9) p = 9;
    return format_float(v, p, out);
}

size_t jw_format_float(float v, char *out) { return jw_format_float_digits(v, 9, out); }

void jw_set_float_digits(jsonw *w, int digits)
{
    w->float_digits = digits >= 1 && digits <= 9 ? digits : 9;
}

int jw_digits(const jsonw *w) { return w->float_digits ? w->float_digits : 9; }

void jw_float(jsonw *w, float v)
{
    jw_before_item(w);
    if (!isfinite(v)) {
        jw_put(w, "null", 4);
        return;
    }
    if (!jw_room(w, 24)) return;
    w->len += jw_format_float_digits(v, jw_digits(w), w->buf + w->len);
}

/* "[x0,x1,...]" of n floats at o (non-finite ones as null); o has room for
 * JW_FLOAT_MAX_CHARS n + 2 bytes (the formatter's scratch writes stay inside each
 * float's share). Returns the end. */
static inline __attribute__((always_inline)) char *put_floats(char *o, const float *x, size_t n,
                                                              int digits)
{
    *o++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i) *o++ = ',';
        if (isfinite(x[i])) o += format_float(x[i], digits, o);
        else {
            memcpy(o, "null", 4);
            o += 4;
        }
    }
    *o++ = ']';
    return o;
}

/*
 * ---- 9 digits, 8 floats at a time (AVX-512) -----------------------------------------
 *
 * The same text as put_floats(o, x, n, 9), 3.6 times as fast on the hidden states and
 * attention maps of a 128-token answer (1.52M floats, one thread, 2-core EPYC: 14.5 ->
 * 4.1 ns a float). format_float is a chain of about 130 instructions, most of them
 * waiting on the multiply before; here 8 chains advance at once.
 *
 * The arithmetic is format_float's 64-bit path on 8 lanes: E from the exponent and one
 * exact comparison, q = m 5^s / 2^k rounded half to even, q's 9 digits (first, then 8 in
 * a word). A lane takes this path only where format_float's would give the same q by
 * the same steps: a normal float, E in [-4, 8] (not the scientific form), s = 8 - E in
 * [0, 12] (5^s < 2^28, so m 5^s < 2^52 is one 32 x 32 -> 64 multiply), k in [1, 63], q
 * in [10^8, 10^9). Every other lane (zeros, tiny, huge, non-finite) goes to format_float
 * itself.
 * The text: the 9 digits, a '-', a '.', a '0' and a ',' in one 16-byte vector, and a
 * byte shuffle picked by (sign, E, digits kept) puts them in order: "-0.00ddd," or
 * "ddd.ddd," (at most 16 bytes: the share of a float and its comma).
 * Divisions by 10^8 and 10^4 are multiplies by rounded-up reciprocals: floor(q M / 2^56)
 * with M = ceil(2^56 / 10^8) = 720575941 is q / 10^8 for q <= 10^9 (the error, q 0.621 /
 * 2^56 < 8.7e-9, stays below the 1e-8 between a fraction and the next whole number);
 * floor(r 109951163 / 2^40) is r / 10^4 for r < 10^8 (error < 2.1e-5 < 1e-4).
 * Checked against snprintf for every float by `make float-check`.
 */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define JW_SIMD 1
#define JW_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512cd")))

/* Byte sources of a float's 16-byte vector: digits 2..9 in bytes 0..7, then these. */
enum { SRC_D1 = 8, SRC_MINUS = 9, SRC_POINT = 10, SRC_ZERO = 11, SRC_COMMA = 12 };
/* The vector's bytes 8..15 above digit 1's: '-', '.', '0', ','. */
#define AUX_CONST 0x2c302e2d00ll
/* Shuffles and text lengths (comma included) by key = sign 117 + (E + 4) 9 + nd - 1,
 * E in [-4, 8], nd (digits kept) in [1, 9]. */
enum { N_KEYS = 2 * 13 * 9 };
static unsigned char SHUF[N_KEYS][16];
static unsigned char SHUF_LEN[N_KEYS];
static bool simd_ok;
static pthread_once_t simd_once = PTHREAD_ONCE_INIT;
static _Atomic bool simd_allowed = true; /* jw_use_simd */

static void simd_init(void)
{
    simd_ok = enc_cpu_avx512();
    for (int sign = 0; sign < 2; sign++)
        for (int E = -4; E <= 8; E++)
            for (int nd = 1; nd <= 9; nd++) {
                int key = sign * 117 + (E + 4) * 9 + nd - 1, n = 0;
                unsigned char *c = SHUF[key];
                memset(c, 0x80, 16); /* past the text: zeros, overwritten by the next */
                if (sign) c[n++] = SRC_MINUS;
                int point = E + 1; /* digits before the point */
                if (E < 0) {       /* "0." and -E - 1 zeros, then the digits */
                    c[n++] = SRC_ZERO, c[n++] = SRC_POINT;
                    for (int z = 0; z < -E - 1; z++) c[n++] = SRC_ZERO;
                    point = nd;
                }
                for (int d = 0; d < nd || d < point; d++) {
                    if (d == point) c[n++] = SRC_POINT;
                    c[n++] = d == 0 ? SRC_D1 : (unsigned char)(d - 1);
                }
                c[n++] = SRC_COMMA;
                SHUF_LEN[key] = (unsigned char)n;
            }
}

static bool use_simd(void)
{
    pthread_once(&simd_once, simd_init);
    return simd_ok && simd_allowed;
}

bool jw_use_simd(bool on)
{
    simd_allowed = on;
    return use_simd();
}

/* 10^k as doubles for k in [-4, 11] (the same literals as POW10D): a lane's E + 5 picks
 * 10^(E + 1). */
static const double POW10_LANES[16] = {1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2,  1e3,
                                       1e4,  1e5,  1e6,  1e7,  1e8, 1e9, 1e10, 1e11};

/* put_floats(o, x, n, 9), 8 floats at a time (see above). */
JW_AVX512 static char *put_floats9_avx512(char *o, const float *x, size_t n)
{
#define C(v) _mm512_set1_epi64(v)
    const __m512i one = C(1);
    const __m512i pow5_lo = _mm512_setr_epi64(1, 5, 25, 125, 625, 3125, 15625, 78125);
    const __m512i pow5_hi =
        _mm512_setr_epi64(390625, 1953125, 9765625, 48828125, 244140625, 0, 0, 0);
    const __m512d pow10_lo = _mm512_loadu_pd(POW10_LANES),
                  pow10_hi = _mm512_loadu_pd(POW10_LANES + 8);
    *o++ = '[';
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        /* (8) lanes: bits, |v| = m 2^(ex - 150), sign */
        __m512i bits = _mm512_cvtepu32_epi64(_mm256_loadu_si256((const __m256i *)(x + i)));
        __m512i sign = _mm512_srli_epi64(bits, 31);
        __m512i ex = _mm512_and_si512(_mm512_srli_epi64(bits, 23), C(0xff));
        __m512i m = _mm512_or_si512(_mm512_and_si512(bits, C(0x7fffff)), C(0x800000));
        /* E = floor(log10 |v|): (ex - 127) 1233 / 4096, plus one where |v| >= 10^(E + 1) */
        __m512i E =
            _mm512_srai_epi64(_mm512_mullo_epi64(_mm512_sub_epi64(ex, C(127)), C(1233)), 12);
        __m512i at = _mm512_min_epi64(_mm512_max_epi64(_mm512_add_epi64(E, C(5)), C(0)), C(15));
        __m512d absv = _mm512_cvtps_pd(
            _mm256_castsi256_ps(_mm512_cvtepi64_epi32(_mm512_and_si512(bits, C(0x7fffffff)))));
        __m512d p10 = _mm512_permutex2var_pd(pow10_lo, at, pow10_hi);
        E = _mm512_mask_add_epi64(E, _mm512_cmp_pd_mask(absv, p10, _CMP_GE_OQ), E, one);
        /* s = 8 - E, k = -(e + s) = 142 - ex + E; q = m 5^s / 2^k, rounded */
        __m512i s = _mm512_sub_epi64(C(8), E);
        __m512i k = _mm512_add_epi64(_mm512_sub_epi64(C(142), ex), E);
        __mmask8 fast = _mm512_cmpge_epi64_mask(E, C(-4)) & _mm512_cmple_epi64_mask(E, C(8)) &
            _mm512_cmpge_epi64_mask(k, one) & _mm512_cmple_epi64_mask(k, C(63)) &
            _mm512_cmpge_epi64_mask(ex, one) & _mm512_cmple_epi64_mask(ex, C(254));
        __m512i prod = _mm512_mul_epu32(m, _mm512_permutex2var_epi64(pow5_lo, s, pow5_hi));
        __m512i q = _mm512_srlv_epi64(prod, k);
        __m512i dropped = _mm512_and_si512(prod, _mm512_sub_epi64(_mm512_sllv_epi64(one, k), one));
        __m512i half = _mm512_sllv_epi64(one, _mm512_sub_epi64(k, one));
        /* up past one half, or at one half to an even q */
        __mmask8 up =
            _mm512_cmpgt_epu64_mask(_mm512_add_epi64(dropped, _mm512_and_si512(q, one)), half);
        q = _mm512_mask_add_epi64(q, up, q, one);
        /* q = 10^9 would be a carry into a new digit (9.99999999e-5 -> 1e-4): no float
         * rounds so at 9 digits, but format_float would take it if one did. */
        fast &= _mm512_cmpge_epu64_mask(q, C(100000000)) &
            _mm512_cmplt_epu64_mask(q, C(1000000000));
        /* the first digit, and eight_digits of the other 8, on every lane */
        __m512i first = _mm512_srli_epi64(_mm512_mul_epu32(q, C(720575941)), 56);
        __m512i r = _mm512_sub_epi64(q, _mm512_mul_epu32(first, C(100000000)));
        __m512i r_hi = _mm512_srli_epi64(_mm512_mul_epu32(r, C(109951163)), 40);
        __m512i w = _mm512_or_si512(
            r_hi, _mm512_slli_epi64(_mm512_sub_epi64(r, _mm512_mul_epu32(r_hi, C(10000))), 32));
        __m512i y = _mm512_and_si512(_mm512_srli_epi64(_mm512_mullo_epi64(w, C(10486)), 20),
                                     C(0x0000007f0000007fll));
        w = _mm512_or_si512(
            _mm512_slli_epi64(_mm512_sub_epi64(w, _mm512_mullo_epi64(y, C(100))), 16), y);
        y = _mm512_and_si512(_mm512_srli_epi64(_mm512_mullo_epi64(w, C(103)), 10),
                             C(0x000f000f000f000fll));
        __m512i rest = _mm512_or_si512(
            _mm512_slli_epi64(_mm512_sub_epi64(w, _mm512_mullo_epi64(y, C(10))), 8), y);
        /* digits kept, nd = 9 - (trailing zero digits): rest's high zero bytes */
        __m512i nd = _mm512_max_epi64(
            _mm512_sub_epi64(C(9), _mm512_srli_epi64(_mm512_lzcnt_epi64(rest), 3)), one);
        __m512i key =
            _mm512_add_epi64(_mm512_add_epi64(_mm512_mullo_epi64(sign, C(117)),
                                              _mm512_mullo_epi64(_mm512_add_epi64(E, C(4)), C(9))),
                             _mm512_sub_epi64(nd, one));
        /* each float's 16 source bytes: its 8 digits and its first digit, '-', '.', '0', ',' */
        rest = _mm512_add_epi64(rest, C(0x3030303030303030ll));
        __m512i aux = _mm512_or_si512(_mm512_add_epi64(first, C('0')), C(AUX_CONST));
        __m128i src[8]; /* floats 0, 2, 4, 6, then 1, 3, 5, 7 */
        _mm512_storeu_si512(src, _mm512_unpacklo_epi64(rest, aux));
        _mm512_storeu_si512(src + 4, _mm512_unpackhi_epi64(rest, aux));
        uint64_t keys[8];
        _mm512_storeu_si512(keys, key);
        for (int j = 0; j < 8; j++) {
            if (fast >> j & 1) {
                __m128i shuf = _mm_loadu_si128((const __m128i *)SHUF[keys[j]]);
                _mm_storeu_si128((__m128i *)o, _mm_shuffle_epi8(src[(j & 1) * 4 + j / 2], shuf));
                o += SHUF_LEN[keys[j]];
            } else {
                if (isfinite(x[i + j])) o += format_float(x[i + j], 9, o);
                else memcpy(o, "null", 4), o += 4;
                *o++ = ',';
            }
        }
    }
#undef C
    for (; i < n; i++) {
        if (isfinite(x[i])) o += format_float(x[i], 9, o);
        else memcpy(o, "null", 4), o += 4;
        *o++ = ',';
    }
    if (n) o[-1] = ']'; /* the last comma */
    else *o++ = ']';
    return o;
}
#else
bool jw_use_simd(bool on)
{
    (void)on;
    return false;
}
#endif

char *jw_put_float_row(char *o, const float *x, size_t n, int digits)
{
#ifdef JW_SIMD
    if (digits == 9 && use_simd()) return put_floats9_avx512(o, x, n);
#endif
    /* 9 digits, the default, as a constant, so that its tables are not looked up. */
    return digits == 9 ? put_floats(o, x, n, 9) : put_floats(o, x, n, digits);
}

void jw_floats(jsonw *w, const float *x, size_t n)
{
    jw_before_item(w);
    /* Reserve once for the whole row. */
    if (n > SIZE_MAX / 4 / JW_FLOAT_MAX_CHARS || !jw_room(w, JW_FLOAT_MAX_CHARS * n + 2)) {
        w->failed = true;
        return;
    }
    char *o = jw_put_float_row(w->buf + w->len, x, n, jw_digits(w));
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = '\0';
}
