#!/usr/bin/env python3
"""vendor_read.py LAYOUT FILE (or --dir DIR LAYOUT...): read line 1 of a rendered vendor file back into
the address model, the way that vendor's phone reads it (written from
templates/<vendor>.md, not from the layouts), and print one JSON object:
user, auth, password, domain, hop (host:port REGISTER is sent to), transport,
and server / outbound_proxy where the vendor keeps them apart (else null);
tz (tz_shape below), srtp (off/optional/required) and backup (host:port)
where the file carries them (else null; json keeps the zone name);
phonebook (the URL the phone fetches its remote phonebook from) and firmware
(the image URL, or for Grandstream the folder URL the phone appends its own
file name to) where the vendor table lists keys for them (else null).
It reads only what the reference tables say; it does not validate values."""
import json
import re
import sys
import xml.etree.ElementTree as ET


def split_hp(s, dflt="5060"):
    """host[:port] or [v6]:port -> (host, port)."""
    s = s.strip()
    m = re.fullmatch(r"(\[[^\]]+\])(?::(\d+))?", s) or re.fullmatch(r"([^:]+)(?::(\d+))?", s)
    if not m:
        return s, dflt
    return m.group(1), m.group(2) or dflt


def out(user, auth, password, domain, hop_host, hop_port, transport, server=None, outbound=None,
        tz=None, srtp=None, backup=None, phonebook=None, firmware=None):
    return {"user": user, "auth": auth, "password": password, "domain": domain,
            "hop": f"{hop_host}:{hop_port}", "transport": transport,
            "server": server, "outbound_proxy": outbound, "tz": tz, "srtp": srtp, "backup": backup,
            "phonebook": phonebook, "firmware": firmware}


# Time zones read back into one shape: "OFFSET" (seconds east, no DST) or
# "OFFSET|M.W.D/H|M.W.D/H|SAVE" with week 5 = last, D 0 = Sunday (POSIX),
# H the hour of the change, SAVE minutes.
def tz_shape(off, start=None, end=None, save_min=None):
    if start is None:
        return str(off)
    return f"{off}|{start[0]}.{start[1]}.{start[2]}/{start[3]}|{end[0]}.{end[1]}.{end[2]}/{end[3]}|{save_min}"


def hm_seconds(s):
    """+1, -5, +5:30, -03:30 -> seconds"""
    m = re.fullmatch(r"([+-])?(\d+)(?::(\d+))?", s)
    v = int(m.group(2)) * 3600 + int(m.group(3) or 0) * 60
    return -v if m.group(1) == "-" else v


def posix_tz(s):
    """A POSIX TZ rule with Mm.w.d changes (what P246 holds) -> tz_shape."""
    m = re.fullmatch(r"(<[^>]+>|[A-Za-z]{3,})([+-]?[\d:]+)(?:(<[^>]+>|[A-Za-z]{3,})([+-]?[\d:]+)?"
                     r",M(\d+)\.(\d)\.(\d)(?:/([+-]?[\d:]+))?,M(\d+)\.(\d)\.(\d)(?:/([+-]?[\d:]+))?)?", s)
    std = -hm_seconds(m.group(2))
    if not m.group(3):
        return tz_shape(std)
    dst = -hm_seconds(m.group(4)) if m.group(4) else std + 3600
    hour = lambda t: hm_seconds(t) // 3600 if t else 2
    return tz_shape(std, (int(m.group(5)), int(m.group(6)), int(m.group(7)), hour(m.group(8))),
                    (int(m.group(9)), int(m.group(10)), int(m.group(11)), hour(m.group(12))), (dst - std) // 60)


def yealink(text):
    kv = {}
    for line in text.splitlines():
        if line.startswith("#") or " = " not in line:
            continue
        k, v = line.split(" = ", 1)
        kv[k] = v
    a = "account.1."
    tr = {"0": "udp", "1": "tcp", "2": "tls"}[kv[a + "sip_server.1.transport_type"]]
    dom, dport = kv[a + "sip_server.1.address"], kv.get(a + "sip_server.1.port", "5060")
    if kv.get(a + "outbound_proxy_enable") == "1":
        hh, hp = kv[a + "outbound_proxy.1.address"], kv.get(a + "outbound_proxy.1.port", "5060")
    else:
        hh, hp = dom, dport
    tz = None
    if "local_time.time_zone" in kv:
        off = hm_seconds(kv["local_time.time_zone"])
        if kv.get("local_time.summer_time") == "1" and kv.get("local_time.dst_time_type") == "1":
            ch = lambda v: (lambda m, w, d, h: (int(m), int(w), int(d) % 7, int(h)))(*v.split("/"))
            tz = tz_shape(off, ch(kv["local_time.start_time"]), ch(kv["local_time.end_time"]),
                          int(kv["local_time.offset_time"]))
        else:
            tz = tz_shape(off)
    srtp = {"0": "off", "1": "optional", "2": "required"}.get(kv.get(a + "srtp_encryption"))
    backup = None
    if kv.get(a + "sip_server.2.address"):
        backup = f'{kv[a + "sip_server.2.address"]}:{kv.get(a + "sip_server.2.port", "5060")}'
    return out(kv[a + "user_name"], kv[a + "auth_name"], kv[a + "password"], dom, hh, hp, tr,
               tz=tz, srtp=srtp, backup=backup, phonebook=kv.get("remote_phonebook.data.1.url"),
               firmware=kv.get("static.firmware.url"))


def fanvil(text):
    kv = {}
    for line in text.splitlines():
        if not line.startswith("SIP1 ") or ":" not in line:
            continue
        k, v = line.split(":", 1)           # key column is 19 characters, padded
        kv[k.strip()[5:]] = v
    tr = {"0": "udp", "1": "tcp", "3": "tls"}[kv["Transport"]]
    dom, dport = kv["Register Addr"], kv.get("Register Port") or "5060"
    if kv.get("Proxy Addr"):
        hh, hp = kv["Proxy Addr"], kv.get("Proxy Port") or "5060"
    else:
        hh, hp = dom, dport
    backup = f'{kv["Backup Addr"]}:{kv.get("Backup Port") or "5060"}' if kv.get("Backup Addr") else None
    return out(kv["Phone Number"], kv["Register User"], kv["Register Pswd"], dom, hh, hp, tr, backup=backup)


def grandstream(text):
    cfg = ET.fromstring(text).find("config")
    p = {e.tag: (e.text or "") for e in cfg}
    tr = {"0": "udp", "1": "tcp", "2": "tls"}[p["P130"]]
    dom, dport = split_hp(p["P47"])
    hh, hp = split_hp(p["P48"]) if p.get("P48") else (dom, dport)
    tz = posix_tz(p["P246"]) if p.get("P64") == "customize" and p.get("P246") else None
    srtp = {"0": "off", "1": "optional", "2": "required"}.get(p.get("P183"))
    backup = "%s:%s" % split_hp(p["P2312"]) if p.get("P2312") else None
    # P331/P192 are host/path; the scheme is P330's / P6767's code; the phone
    # appends phonebook.xml to P331 and its image's name to P192.
    pb = {"1": "http", "3": "https"}.get(p.get("P330"))
    fw = {"1": "http", "2": "https"}.get(p.get("P6767"))
    pb = f'{pb}://{p["P331"]}/phonebook.xml' if pb and p.get("P331") else None
    fw = f'{fw}://{p["P192"]}/' if fw and p.get("P192") else None
    return out(p["P35"], p.get("P36") or p["P35"], p["P34"], dom, hh, hp, tr, tz=tz, srtp=srtp, backup=backup,
               phonebook=pb, firmware=fw)


def cisco(text):
    p = {e.tag: (e.text or "") for e in ET.fromstring(text)}
    tr = p["SIP_Transport_1_"].lower()
    dom, dport = split_hp(p["Proxy_1_"])
    if p.get("Use_Outbound_Proxy_1_") == "Yes" and p.get("Outbound_Proxy_1_"):
        hh, hp = split_hp(p["Outbound_Proxy_1_"])
    else:
        hh, hp = dom, dport
    auth = p["Auth_ID_1_"] if p.get("Use_Auth_ID_1_") == "Yes" else p["User_ID_1_"]
    tz = None
    if p.get("Time_Zone"):
        off = hm_seconds(p["Time_Zone"][3:])
        rule = dict(x.split("=", 1) for x in p.get("Daylight_Saving_Time_Rule", "").split(";") if "=" in x)
        if p.get("Daylight_Saving_Time_Enable") == "Yes":
            def ch(v):
                m, d, w, t = v.split("/")
                return int(m), 5 if int(d) < 0 else (int(d) - 1) // 7 + 1, int(w) % 7, int(t.split(":")[0])
            sv = [int(x) for x in rule["save"].split(":")] + [0, 0]
            tz = tz_shape(off, ch(rule["start"]), ch(rule["end"]), sv[0] * 60 + sv[1])
        else:
            tz = tz_shape(off)
    srtp = {"Yes": "required", "No": "off"}.get(p.get("Secure_Call_Setting_1_"))
    backup = "%s:%s" % split_hp(p["Alternate_Proxy_1_"]) if p.get("Alternate_Proxy_1_") else None
    fw = p.get("Upgrade_Rule") if p.get("Upgrade_Enable") == "Yes" else None
    return out(p["User_ID_1_"], auth, p["Password_1_"], dom, hh, hp, tr, tz=tz, srtp=srtp, backup=backup,
               phonebook=p.get("XML_Directory_Service_URL") or None, firmware=fw or None)


def polycom(text):
    a = {}
    for e in ET.fromstring(text).iter():
        a.update(e.attrib)                  # Polycom reads attributes, whatever the element
    r = "reg.1."
    tr = {"UDPOnly": "udp", "TCPOnly": "tcp", "TLS": "tls"}[a[r + "server.1.transport"]]
    srv, sport = a[r + "server.1.address"], a.get(r + "server.1.port") or "5060"
    user, _, dom = a[r + "address"].partition("@")
    dom = dom or srv
    ob = None
    if a.get(r + "outboundProxy.address"):
        hh, hp = a[r + "outboundProxy.address"], a.get(r + "outboundProxy.port") or "5060"
        ob = f"{hh}:{hp}"
    else:
        hh, hp = srv, sport
    tz = None
    d = "tcpIpApp.sntp.daylightSavings."
    if "tcpIpApp.sntp.gmtOffset" in a:
        off = int(a["tcpIpApp.sntp.gmtOffset"])
        if a.get(d + "enable") == "1" and a.get(d + "fixedDayEnable") == "0":
            def ch(k):
                week = 5 if a[d + k + ".dayOfWeek.lastInMonth"] == "1" else (int(a[d + k + ".date"]) - 1) // 7 + 1
                return int(a[d + k + ".month"]), week, int(a[d + k + ".dayOfWeek"]) - 1, int(a[d + k + ".time"])
            tz = tz_shape(off, ch("start"), ch("stop"), 60)   # Polycom has no saving key: 1 h
        else:
            tz = tz_shape(off)
    srtp = None
    if "sec.srtp.enable" in a:
        srtp = "off" if a["sec.srtp.enable"] == "0" else "required" if a.get("sec.srtp.require") == "1" else "optional"
    backup = f'{a[r + "server.2.address"]}:{a.get(r + "server.2.port") or "5060"}' if a.get(r + "server.2.address") else None
    return out(user, a[r + "auth.userId"], a[r + "auth.password"], dom, hh, hp, tr, f"{srv}:{sport}", ob,
               tz=tz, srtp=srtp, backup=backup)


def snom_uri(s):
    """host[:port][;transport=x] -> (host, port, transport)"""
    hp, _, params = s.partition(";")
    t = re.search(r"transport=(\w+)", params)
    h, p = split_hp(hp)
    return h, p, (t.group(1).lower() if t else "udp")


def snom(text):
    v = {}
    for e in ET.fromstring(text).iter():
        if e.get("idx") in (None, "1"):
            v[e.tag] = e.text or ""
    dh, dp, dt = snom_uri(v["user_host"])
    if v.get("user_outbound"):
        hh, hp, tr = snom_uri(v["user_outbound"].split(",")[0])
    else:
        hh, hp, tr = dh, dp, dt
    srtp = None
    if "user_srtp" in v:
        srtp = "off" if v["user_srtp"] == "off" else {"mandatory": "required", "optional": "optional"}.get(v.get("user_savp"))
    tz = None
    if "utc_offset" in v:                   # seconds east; dst "SAVE mm.ww.dd hh:mm:ss mm.ww.dd hh:mm:ss"
        d = (v.get("dst") or "").split()
        if len(d) == 5:
            def ch(date, time):
                m, w, wd = (int(x) for x in date.split("."))
                return m, w, wd % 7, int(time.split(":")[0])
            tz = tz_shape(int(v["utc_offset"]), ch(d[1], d[2]), ch(d[3], d[4]), int(d[0]) // 60)
        else:
            tz = tz_shape(int(v["utc_offset"]))
    backup = None
    hops = v.get("user_outbound", "").split(",")
    if len(hops) > 1:
        bh, bp, _ = snom_uri(hops[1])
        backup = f"{bh}:{bp}"
    return out(v["user_name"], v.get("user_pname") or v["user_name"], v["user_pass"], dh, hh, hp, tr,
               tz=tz, srtp=srtp, backup=backup)


def sip_uri(s):
    """<sip:[user@]host[:port][;params]> -> (user, host, port, params dict)"""
    m = re.search(r"<sip:([^>]*)>", s)
    body = m.group(1) if m else s
    main, *params = body.split(";")
    user, _, hostport = main.rpartition("@")
    h, p = split_hp(hostport)
    return user, h, p, dict(x.split("=", 1) if "=" in x else (x, "") for x in params)


def linphone(text):
    ns = {"l": "http://www.linphone.org/xsds/lpconfig.xsd"}
    sec = {}
    for s in ET.fromstring(text).findall("l:section", ns):
        sec[s.get("name")] = {e.get("name"): (e.text or "") for e in s.findall("l:entry", ns)}
    px, au = sec["proxy_0"], sec["auth_info_0"]
    user, dom, _, _ = sip_uri(px["reg_identity"])
    _, sh, sp, prm = sip_uri(px["reg_proxy"])
    tr = prm.get("transport", "udp")
    ob = None
    if px.get("reg_route"):
        _, hh, hp, _ = sip_uri(px["reg_route"])
        ob = f"{hh}:{hp}"
    else:
        hh, hp = sh, sp
    return out(au["username"], au.get("userid") or au["username"], au["passwd"], dom, hh, hp, tr, f"{sh}:{sp}", ob)


def jsonfmt(text):
    d = json.loads(text)
    s, l1 = d["settings"], d["lines"][0]
    sh, sp = split_hp(s["server"], s["port"] or "5060")
    ob = None
    if s["outbound_proxy"]:
        hh, hp = split_hp(s["outbound_proxy"])
        ob = f"{hh}:{hp}"
    else:
        hh, hp = sh, sp
    backup = "%s:%s" % split_hp(s["backup_server"], s["port"] or "5060") if s.get("backup_server") else None
    return out(l1["username"], l1["auth_username"], l1["password"], s["registrar"] or sh, hh, hp,
               s["transport"] or "udp", f"{sh}:{sp}", ob, tz=s.get("timezone") or None,
               srtp=s.get("srtp") or None, backup=backup)


READERS = {"yealink": yealink, "fanvil": fanvil, "grandstream": grandstream, "cisco": cisco,
           "polycom": polycom, "snom": snom, "linphone": linphone, "json": jsonfmt}

if __name__ == "__main__":
    if sys.argv[1] == "--dir":              # --dir DIR LAYOUT...: DIR/LAYOUT.out -> DIR/LAYOUT.json, one start-up
        for name in sys.argv[3:]:
            with open(f"{sys.argv[2]}/{name}.out", encoding="utf-8") as f:
                doc = READERS[name](f.read())
            with open(f"{sys.argv[2]}/{name}.json", "w", encoding="utf-8") as f:
                f.write(json.dumps(doc, sort_keys=True) + "\n")
        sys.exit(0)
    with open(sys.argv[2], encoding="utf-8") as f:
        print(json.dumps(READERS[sys.argv[1]](f.read()), sort_keys=True))
