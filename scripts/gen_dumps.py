#!/usr/bin/env python3
"""Writes realistic hourly Hive dumps of 51007-shaped rows, as text or Parquet.

Layout: OUT/<table>/dt=YYYY-MM-DD/hour=HH/part-NNNNN[.gz|.parquet] plus _SUCCESS,
which is what the bundled interface specs read.

Values follow DOMAIN.md: province codes, 16-hex data source ids, encrypted
phone numbers ending in ==, Chinese page titles (some with emoji or characters
outside GBK), JSON in wt_xy with | and quotes and escaped URLs, CR and TAB
inside values, \\N for NULL, and on request a few broken lines (wrong field
count, invalid UTF-8). Deterministic for a given --seed.

Examples:
  scripts/gen_dumps.py --out testdata/dumps --date 20241212 --rows 2000 --gzip
  scripts/gen_dumps.py --out /tmp/big --date 20241212 --hours 00 --rows 2500000 --files 8
"""
import argparse
import base64
import gzip
import os
import random

COLUMNS = """daytime ip cs_host wt_cid wt_co_f wt_city wt_mobile wt_event wt_ti wt_es wt_markid trmnl_style wt_av
date click_time wt_prov wt_si_x wt_si_n wt_si_s wt_goods_id wt_sku_id wt_channelid useragent wt_os wt_dm wt_sv
wt_a_dc wt_ct wt_sr wt_vt_sid wt_userbrand wt_loginprovince wt_logincity wt_appid wt_channel wt_dcsref wt_et wt_ed
wt_envname wt_next_url wt_errcode wt_errmsg wt_serial_no wt_act_str_step_id wt_group_id wt_mr_id wt_ad_step
wt_touch_tm wt_appqry wt_xy wt_sid""".split()
assert len(COLUMNS) == 51

PROVINCES = ["100", "200", "210", "250", "270", "280", "311", "371", "531", "551", "571", "591", "791", "871", "991"]
PROV_WEIGHTS = [9, 12, 7, 10, 6, 7, 5, 8, 7, 5, 9, 5, 4, 3, 3]
SOURCES = ["a1f48d9ff4f42571"] * 30 + ["b508a809cbbddd0b"] * 18 + ["b0fa8d7efc1cddd1"] * 6 + \
          ["b95440ef47ec01fc"] * 14 + ["c7e2a90d3f5b1846"] * 8 + ["d2f8b3c6e1a49057"] * 4 + \
          ["e4a1c8f7b2d60935"] * 8 + ["f9b3d5e2c8a71406"] * 4 + ["9d0c6b1e7f3a2584"] * 8
OS_BY_SOURCE = {"a1f48d9ff4f42571": "Android", "b508a809cbbddd0b": "iOS", "b0fa8d7efc1cddd1": "HarmonyOS"}
EVENTS = ["clk"] * 40 + ["pageview"] * 35 + ["imp"] * 20 + ["pfm"] * 5
TITLES = ["首页", "我的", "流量充值", "话费查询", "权益中心", "5G套餐专区", "宽带办理", "积分商城", "签到有礼",
          "视频彩铃", "云盘", "家庭网", "账单详情", "优惠活动", "和包支付", "客服中心", "营业厅", "国际漫游"]
RARE = ["😀", "🎉", "𠮷", "™", "👍"]  # emoji and characters outside GBK
ELEMENTS = ["立即办理", "查看详情", "领取", "返回", "banner_1", "底部导航-我的", "去充值", "分享"]
UAS = ["Mozilla/5.0 (Linux; Android 12; M2012K11AC Build/SKQ1.211006.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/96.0.4664.104 Mobile Safari/537.36 leadeon/9.1.2",
       "Mozilla/5.0 (iPhone; CPU iPhone OS 16_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 leadeon/9.0.0",
       "Mozilla/5.0 (Linux; HarmonyOS 4.0; ALN-AL00) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99.0.4844.88 Mobile Safari/537.36",
       "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 MicroMessenger/8.0.40"]
VERSIONS = ["9.1.2", "9.0.0", "8.7.1", "1.0.0", "10.0.3"]
MC_EV = ["210315_QYCS_12", "210315_QYCS_7", "210315_QYCS_ab", "x_210315_QYCS", "210902_QYLQTYY_home", "other_ev", "\\N"]


def hexid(r, n=16):
    return "%0*x" % (n, r.getrandbits(4 * n))


def row(r, date_iso, hour, with_mc_ev):
    src = r.choice(SOURCES)
    os_name = OS_BY_SOURCE.get(src, r.choice(["Android", "iOS", "\\N"]))
    mm, ss = r.randrange(60), r.randrange(60)
    title = r.choice(TITLES)
    k = r.random()
    if k < 0.02:
        title += r.choice(RARE)
    elif k < 0.03:
        title += "\t" + r.choice(TITLES)      # a TAB inside a value
    elif k < 0.035:
        title += "\r"                           # a stray CR
    elif k < 0.04:
        title += "|" + r.choice(TITLES)        # the output delimiter inside a value
    url = f"https://h5.10086.cn/{r.choice(['home', 'act', 'quan', 'pay'])}/index.html?channel={r.randrange(1000)}&t={r.randrange(10**6)}"
    xy = '{"mc_ev":"%s","url":"%s","pos":"%d|%d","q":"he said \\"hi\\""}' % (
        r.choice(ELEMENTS), url.replace("/", "\\/"), r.randrange(10), r.randrange(10))
    av = "" if r.random() < 0.5 else (r.choice(VERSIONS) if r.random() < 0.9 else "\\N")
    v = {
        "daytime": f"{date_iso} {hour}:{mm:02d}:{ss:02d}",
        "ip": f"{r.randrange(1, 224)}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(256)}",
        "cs_host": r.choice(["h5.10086.cn", "app.10086.cn", "wx.10086.cn"]),
        "wt_cid": hexid(r, 32),
        "wt_co_f": hexid(r, 16),
        "wt_city": str(r.randrange(100, 999)),
        "wt_mobile": base64.b64encode(r.getrandbits(128).to_bytes(16, "big")).decode(),
        "wt_event": r.choice(["click_banner", "page_load", "tab_switch", "btn_buy"]),
        "wt_ti": title,
        "wt_es": url,
        "wt_markid": str(r.randrange(10**6)),
        "trmnl_style": src,
        "wt_av": av,
        "date": date_iso,
        "click_time": str(1733961600000 + int(hour) * 3600000 + r.randrange(3600000)),
        "wt_prov": r.choices(PROVINCES, PROV_WEIGHTS)[0],
        "wt_os": os_name,
        "wt_sv": r.choice(VERSIONS),
        "useragent": r.choice(UAS),
        "wt_et": r.choice(EVENTS),
        "wt_envname": r.choice(ELEMENTS),
        "wt_xy": xy,
        "wt_sid": hexid(r, 24),
        "wt_userbrand": r.choice(["全球通", "动感地带", "神州行", "\\N"]),
    }
    out = []
    for c in COLUMNS:
        if c in v:
            out.append(v[c])
        elif r.random() < 0.5:
            out.append("\\N")
        elif r.random() < 0.5:
            out.append("")
        else:
            out.append(str(r.randrange(10**5)))
    if with_mc_ev:
        out.append(r.choice(MC_EV))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--table", default="cm001", help="directory under --out (cm001, 51007, 51006)")
    ap.add_argument("--date", required=True, help="YYYYMMDD")
    ap.add_argument("--hours", default="00-23", help="HH, HH-HH or HH,HH,...")
    ap.add_argument("--rows", type=int, default=1000, help="rows per hour")
    ap.add_argument("--files", type=int, default=2, help="files per hour")
    ap.add_argument("--format", choices=["text", "parquet"], default="text")
    ap.add_argument("--gzip", action="store_true", help="gzip text files")
    ap.add_argument("--broken", type=int, default=0, help="broken lines per hour (text only)")
    ap.add_argument("--mc-ev", action="store_true", help="append the mc_ev column (51006/51010 layout)")
    ap.add_argument("--no-marker", action="store_true", help="do not write _SUCCESS")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    if "-" in a.hours:
        lo, hi = a.hours.split("-")
        hours = [f"{h:02d}" for h in range(int(lo), int(hi) + 1)]
    else:
        hours = [f"{int(h):02d}" for h in a.hours.split(",")]
    date_iso = f"{a.date[:4]}-{a.date[4:6]}-{a.date[6:]}"
    cols = COLUMNS + (["mc_ev"] if a.mc_ev else [])
    for hour in hours:
        r = random.Random(f"{a.seed}-{a.date}-{hour}")
        d = os.path.join(a.out, a.table, f"dt={date_iso}", f"hour={hour}")
        os.makedirs(d, exist_ok=True)
        per_file = [a.rows // a.files + (1 if i < a.rows % a.files else 0) for i in range(a.files)]
        broken_at = set(r.sample(range(a.rows), min(a.broken, a.rows))) if a.broken else set()
        n = 0
        for fi, count in enumerate(per_file):
            rows = [row(r, date_iso, hour, a.mc_ev) for _ in range(count)]
            if a.format == "parquet":
                write_parquet(os.path.join(d, f"part-{fi:05d}.parquet"), cols, rows)
                n += count
                continue
            lines = []
            for vals in rows:
                line = "\x01".join(vals).encode("utf-8")
                if n in broken_at:
                    line = b"\x01".join(line.split(b"\x01")[:20]) if r.random() < 0.5 else line.replace(b"\x01", b"\x01\xff\xfe", 1)
                lines.append(line)
                n += 1
            data = b"\n".join(lines) + b"\n"
            name = os.path.join(d, f"part-{fi:05d}" + (".gz" if a.gzip else ""))
            if a.gzip:
                with gzip.GzipFile(name, "wb", compresslevel=6, mtime=0) as f:
                    f.write(data)
            else:
                with open(name, "wb") as f:
                    f.write(data)
        if not a.no_marker:
            open(os.path.join(d, "_SUCCESS"), "wb").close()


def write_parquet(path, cols, rows):
    import pyarrow as pa
    import pyarrow.parquet as pq
    import datetime
    arrays = []
    fields = []
    for i, c in enumerate(cols):
        vals = [None if row[i] == "\\N" else row[i] for row in rows]
        if c == "daytime":
            vals = [datetime.datetime.strptime(v, "%Y-%m-%d %H:%M:%S") if v else None for v in vals]
            arrays.append(pa.array(vals, pa.timestamp("ms")))
            fields.append(pa.field(c, pa.timestamp("ms")))
        elif c == "click_time":
            arrays.append(pa.array([int(v) if v else None for v in vals], pa.int64()))
            fields.append(pa.field(c, pa.int64()))
        else:
            arrays.append(pa.array(vals, pa.string()))
            fields.append(pa.field(c, pa.string()))
    pq.write_table(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), path, compression="snappy")


if __name__ == "__main__":
    main()
