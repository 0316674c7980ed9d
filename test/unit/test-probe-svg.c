/*
 * test-probe-svg.c: the SVG timeline of ovn-lm-probe (probe-svg).
 */
#include <stdlib.h>
#include <string.h>

#include "probe-stats.h"
#include "probe-svg.h"
#include "probe-util.h"
#include "test.h"

#define T0 INT64_C(1732228200000000000)
#define US INT64_C(1000)
#define MS INT64_C(1000000)

/* Like TEST_CONTAINS, without printing the whole picture on failure. */
#define SVG_HAS(NEEDLE) \
    do { \
        if (!TEST_CHECK(strstr(svg, NEEDLE))) { \
            fprintf(stderr, "    SVG lacks \"%s\"\n", NEEDLE); \
        } \
    } while (0)

static char *
escape(const char *s, size_t max)
{
    struct probe_buf b;

    probe_buf_init(&b);
    probe_svg_escape(&b, s, max);
    return probe_buf_steal(&b);
}

static void
test_escape(void)
{
    static const struct {
        const char *in;
        size_t max;
        const char *out;
    } cases[] = {
        { "plain", 100, "plain" },
        { "<a href=\"x\">&'", 100, "&lt;a href=&quot;x&quot;&gt;&amp;&apos;" },
        { "tab\tnl\ndel\x7f", 100, "tab?nl?del?" },
        { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80", 100,
          "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80" },
        { "bad \xff byte", 100, "bad ? byte" },
        { "cut \xc3", 100, "cut ?" },
        { "overlong \xc0\xaf", 100, "overlong ??" },
        { "surrogate \xed\xa0\x80", 100, "surrogate ???" },
        { "beyond \xf4\x90\x80\x80", 100, "beyond ????" },
        { "abcdef", 3, "abc\xe2\x80\xa6" },
        { "\xc3\xa9\xc3\xa9\xc3\xa9", 2, "\xc3\xa9\xc3\xa9\xe2\x80\xa6" },
        { "", 10, "" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *s;

        test_case(cases[i].in);
        s = escape(cases[i].in, cases[i].max);
        TEST_EQ_STR(s, cases[i].out);
        free(s);
    }
    test_case(NULL);
}

/* 2 s at 10 kHz, a 50 ms hole at 1 s, duplicates after it. */
static struct probe_stats *
make_run(bool hole)
{
    struct probe_stats *stats = probe_stats_create(100 * US);

    for (size_t i = 0; i < 20000; i++) {
        probe_stats_sent(stats, i, T0 + i * 100 * US);
    }
    for (size_t i = 0; i < 20000; i++) {
        if (!hole || i < 10000 || i >= 10500) {
            probe_stats_reply(stats, i, T0 + i * 100 * US + 40 * US
                              + (i % 7) * US);
        }
        if (hole && i >= 10500 && i < 10600) {
            probe_stats_reply(stats, i, T0 + i * 100 * US + 60 * US);
        }
    }
    return stats;
}

static char *
render(struct probe_stats *stats, const struct probe_event *events,
       size_t n_events, struct probe_stats_result *r)
{
    struct probe_svg_input in;
    size_t n;

    probe_stats_finish(stats, T0 + 2000 * MS, 5, r);
    memset(&in, 0, sizeof in);
    in.samples = probe_stats_samples(stats, &n);
    in.n_samples = n;
    in.result = r;
    in.events = events;
    in.n_events = n_events;
    in.title = "title <1>";
    in.subtitle = "sub & title";
    return probe_svg_render(&in);
}

static size_t
count(const char *haystack, const char *needle)
{
    size_t n = 0;

    for (const char *p = haystack; (p = strstr(p, needle)); p++) {
        n++;
    }
    return n;
}

static void
test_render(void)
{
    struct probe_event events[] = {
        { T0 + 990 * MS, "duplication <on>" },
        { T0 + 1030 * MS, "claimed & bound" },
        { T0 + 5000 * MS, "after the run" },
    };
    struct probe_stats *stats = make_run(true);
    struct probe_stats_result r;
    char *svg = render(stats, events, 3, &r);

    test_case("outage");
    TEST_CHECK(!strncmp(svg, "<?xml", 5));
    TEST_CHECK(!strstr(svg, ">-0.0<"));
    SVG_HAS("</svg>\n");
    SVG_HAS("title &lt;1&gt;");
    SVG_HAS("sub &amp; title");
    /* From probe 9999's reply (40 + 3 us) to probe 10500's (40 us). */
    SVG_HAS("longest gap 50.097 ms");
    /* The zoom panel on the outage. */
    SVG_HAS("clip2");
    SVG_HAS("zoom on the longest gap");
    /* Events: escaped, listed, the third one outside the window only
     * listed. */
    SVG_HAS("duplication &lt;on&gt;");
    SVG_HAS("claimed &amp; bound");
    SVG_HAS("+5.000000 s  after the run");
    TEST_CHECK(!strstr(svg, "<on>"));
    TEST_EQ_INT(count(svg, "stroke-dasharray=\"5,3\""), 4);
    /* Lost probes, duplicates. */
    SVG_HAS("#d62728\" stroke-width=\"1\" d=\"\nM");
    SVG_HAS("#ff7f0e\" stroke-width=\"2.4\" "
                  "stroke-linecap=\"round\" d=\"\nM");
    /* One dot per pixel: far fewer than 20000 probes. */
    TEST_CHECK(count(svg, "h0") < 20000);
    TEST_CHECK(strlen(svg) < 1000000);
    free(svg);
    probe_stats_result_destroy(&r);
    probe_stats_destroy(stats);

    test_case("no outage: no zoom");
    stats = make_run(false);
    svg = render(stats, NULL, 0, &r);
    TEST_CHECK(!strstr(svg, "clip2"));
    TEST_CHECK(!strstr(svg, ">events<"));
    SVG_HAS("longest gap 0.10");
    free(svg);
    probe_stats_result_destroy(&r);
    probe_stats_destroy(stats);

    test_case("nothing sent");
    stats = probe_stats_create(MS);
    svg = render(stats, events, 1, &r);
    SVG_HAS("</svg>");
    free(svg);
    probe_stats_result_destroy(&r);
    probe_stats_destroy(stats);
    test_case(NULL);
}

int
main(void)
{
    test_escape();
    test_render();
    return test_summary();
}
