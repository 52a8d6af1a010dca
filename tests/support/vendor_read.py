#!/usr/bin/env python3
"""vendor_read.py LAYOUT FILE: read line 1 of a rendered vendor file back into
the address model, the way that vendor's phone reads it (written from
templates/<vendor>.md, not from the layouts), and print one JSON object:
user, auth, password, domain, hop (host:port REGISTER is sent to), transport,
and server / outbound_proxy where the vendor keeps them apart (else null).
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


def out(user, auth, password, domain, hop_host, hop_port, transport, server=None, outbound=None):
    return {"user": user, "auth": auth, "password": password, "domain": domain,
            "hop": f"{hop_host}:{hop_port}", "transport": transport,
            "server": server, "outbound_proxy": outbound}


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
    return out(kv[a + "user_name"], kv[a + "auth_name"], kv[a + "password"], dom, hh, hp, tr)


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
    return out(kv["Phone Number"], kv["Register User"], kv["Register Pswd"], dom, hh, hp, tr)


def grandstream(text):
    cfg = ET.fromstring(text).find("config")
    p = {e.tag: (e.text or "") for e in cfg}
    tr = {"0": "udp", "1": "tcp", "2": "tls"}[p["P130"]]
    dom, dport = split_hp(p["P47"])
    hh, hp = split_hp(p["P48"]) if p.get("P48") else (dom, dport)
    return out(p["P35"], p.get("P36") or p["P35"], p["P34"], dom, hh, hp, tr)


def cisco(text):
    p = {e.tag: (e.text or "") for e in ET.fromstring(text)}
    tr = p["SIP_Transport_1_"].lower()
    dom, dport = split_hp(p["Proxy_1_"])
    if p.get("Use_Outbound_Proxy_1_") == "Yes" and p.get("Outbound_Proxy_1_"):
        hh, hp = split_hp(p["Outbound_Proxy_1_"])
    else:
        hh, hp = dom, dport
    auth = p["Auth_ID_1_"] if p.get("Use_Auth_ID_1_") == "Yes" else p["User_ID_1_"]
    return out(p["User_ID_1_"], auth, p["Password_1_"], dom, hh, hp, tr)


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
    return out(user, a[r + "auth.userId"], a[r + "auth.password"], dom, hh, hp, tr, f"{srv}:{sport}", ob)


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
    return out(v["user_name"], v.get("user_pname") or v["user_name"], v["user_pass"], dh, hh, hp, tr)


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
    return out(l1["username"], l1["auth_username"], l1["password"], s["registrar"] or sh, hh, hp,
               s["transport"] or "udp", f"{sh}:{sp}", ob)


READERS = {"yealink": yealink, "fanvil": fanvil, "grandstream": grandstream, "cisco": cisco,
           "polycom": polycom, "snom": snom, "linphone": linphone, "json": jsonfmt}

if __name__ == "__main__":
    with open(sys.argv[2], encoding="utf-8") as f:
        print(json.dumps(READERS[sys.argv[1]](f.read()), sort_keys=True))
