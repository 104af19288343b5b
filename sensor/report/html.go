package report

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// WriteHTML writes the report as one self-contained page.
func (r *Report) WriteHTML(w io.Writer) error {
	if err := page.Execute(w, r); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"pct":       func(v float64) string { return fmt.Sprintf("%.1f %%", 100*v) },
	"secs":      human,
	"hours":     func(h float64) string { return human(h * 3600) },
	"timeline":  timelineSVG,
	"histogram": histogramSVG,
	"coverage":  func(r *Report) template.HTML { return hoursSVG(&r.Coverage, r.From, r.To) },
	"mb":        func(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) },
	"join":      func(l []string) string { return strings.Join(l, ", ") },
}).Parse(pageHTML))

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>launchtap evidence report {{ts .From}} – {{ts .To}}</title>
<style>
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f; margin: 0 auto; max-width: 1180px; padding: 18px 24px 40px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 2px solid #3465a4; padding-bottom: 3px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { color: #555; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #ddd; vertical-align: top; }
th { background: #f1f3f6; font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #1b7d36; font-weight: 600; }
.bad { color: #b3261e; font-weight: 600; }
.kpis { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0; }
.kpi { border: 1px solid #ddd; border-radius: 6px; padding: 6px 12px; min-width: 130px; }
.kpi b { display: block; font-size: 18px; }
.pic { width: 100%; max-width: 640px; height: auto; display: block; margin: 4px 0; }
.pic.wide { max-width: 100%; }
.alert { border: 1px solid #ddd; border-left: 4px solid #b3261e; border-radius: 4px; padding: 8px 14px; margin: 12px 0; page-break-inside: avoid; }
.alert .pics { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
ul.reasons { margin: 4px 0; padding-left: 20px; }
.none { color: #555; font-style: italic; }
@media (max-width: 800px) { .alert .pics { grid-template-columns: 1fr; } }
@media print { body { max-width: none; padding: 0; font-size: 11px; } h2 { page-break-after: avoid; } table { font-size: 10px; } }
</style>
</head>
<body>
<h1>launchtap evidence report{{if .Org}}: the organisation, {{len .Coverage.Sensors}} sensor(s){{end}}</h1>
<p class="meta">Window {{ts .From}} – {{ts .To}} (capture time) · generated {{ts .Generated}} · {{if .Org}}database{{else}}state{{end}} {{.StateFile}} ({{mb .StateSize}})</p>

<h2>1. Coverage and blind spots</h2>
{{with .Coverage}}
<div class="kpis">
<div class="kpi">observed<b>{{.ObservedHours}} / {{.WindowHours}} h</b></div>
<div class="kpi">packets<b>{{.Packets}}</b></div>
<div class="kpi">kernel drops<b class="{{if .Drops}}bad{{else}}ok{{end}}">{{.Drops}}</b></div>
<div class="kpi">external sessions<b>{{.Sessions}}</b></div>
<div class="kpi">one-sided<b class="{{if gt .OneSidedShare 0.2}}bad{{end}}">{{pct .OneSidedShare}}</b></div>
<div class="kpi">sessions named by DNS<b class="{{if lt .NamedShare 0.5}}bad{{end}}">{{pct .NamedShare}}</b></div>
<div class="kpi">Macs seen{{if .InventoryCompared}} / in MDM{{end}}<b>{{.MacsSeen}}{{if .InventoryCompared}} / {{.MacsInventory}}{{end}}</b></div>
<div class="kpi">table evictions<b class="{{if .Evictions}}bad{{end}}">{{.Evictions}}</b></div>
<div class="kpi">hosts on encrypted DNS<b class="{{if .EncryptedDNS}}bad{{end}}">{{len .EncryptedDNS}}</b></div>
</div>
{{end}}
{{coverage .}}
{{with .Coverage}}
{{if .Sensors}}<h3>Each sensor's coverage</h3>
<table><tr><th>sensor</th><th>version</th><th>last checkpoint</th><th class="n">observed</th><th class="n">packets</th><th class="n">kernel drops</th><th class="n">sessions</th><th class="n">named</th><th class="n">one-sided</th><th class="n">hosts</th><th class="n">Macs</th><th class="n">periodic</th><th class="n">alerts</th><th>gaps</th></tr>
{{range .Sensors}}<tr><td><b>{{.Sensor}}</b></td><td>{{.Version}}</td><td>{{ts .LastCheckpoint}}</td><td class="n{{if lt .ObservedHours .WindowHours}} bad{{end}}">{{.ObservedHours}} / {{.WindowHours}} h</td><td class="n">{{.Packets}}</td><td class="n{{if .Drops}} bad{{end}}">{{.Drops}}</td><td class="n">{{.Sessions}}</td><td class="n{{if lt .NamedShare 0.5}} bad{{end}}">{{pct .NamedShare}}</td><td class="n">{{pct .OneSidedShare}}</td><td class="n">{{.Hosts}}</td><td class="n">{{.MacsSeen}}</td><td class="n">{{.Periodic}}</td><td class="n{{if .Alerts}} bad{{end}}">{{.Alerts}}</td>
<td>{{range $i, $g := .Gaps}}{{if $i}}<br>{{end}}{{ts $g.From}} – {{ts $g.To}}: {{$g.Why}}{{else}}<span class="ok">none</span>{{end}}</td></tr>
{{end}}</table>{{end}}
<h3>When the sensor ran</h3>
{{if .Runs}}<table><tr>{{if $.Org}}<th>sensor</th>{{end}}<th>from</th><th>to</th><th class="n">hours</th></tr>
{{range .Runs}}<tr>{{if $.Org}}<td>{{.Sensor}}</td>{{end}}<td>{{ts .From}}</td><td>{{ts .To}}</td><td class="n">{{printf "%.1f" .Hours}}</td></tr>{{end}}
</table>{{else}}<p class="none">No run recorded in the window.</p>{{end}}
<h3>Internal networks (the hosts watched)</h3>
{{if .InternalNetworks}}<table><tr><th>network</th><th>source</th><th>learned</th><th>last held</th></tr>
{{range .InternalNetworks}}<tr><td>{{.Prefix}}</td><td>{{if eq .Source "learned"}}learned from a router advertisement{{else}}configured (--internal){{end}}</td><td>{{with .Learned}}{{ts .}}{{end}}</td><td>{{with .Held}}{{ts .}}{{end}}</td></tr>{{end}}
</table>{{else}}<p class="none">Not recorded: no checkpoint by this launchtap version in the window.</p>{{end}}
<h3>Gaps (hours without packets)</h3>
{{if .Gaps}}<table><tr><th>from</th><th>to</th><th class="n">hours</th><th>why</th></tr>
{{range .Gaps}}<tr><td>{{ts .From}}</td><td>{{ts .To}}</td><td class="n">{{printf "%.0f" .Hours}}</td><td>{{.Why}}</td></tr>{{end}}
</table>{{else}}<p class="ok">None: every hour of the window had packets.</p>{{end}}
<h3>DNS visibility</h3>
<p>{{.NamedDNS}} external sessions were named from the client's own DNS answers, {{.NamedMAC}} from its MAC's (dual stack), {{.NamedWire}} from their own bytes with no DNS answer on the span (TLS SNI, QUIC, HTTP Host, proxy CONNECT: DNS the span does not see, such as DoH or an off-span resolver), {{.Unnamed}} had no name ({{.DNSQueries}} DNS queries seen). Unnamed sessions are scored by address, which a CDN rotates.</p>
{{if .DNSBlind}}<table><tr><th>host</th><th>name</th><th class="n">sessions</th><th class="n">named</th><th>likely</th></tr>
{{range .DNSBlind}}<tr><td>{{if .Sensor}}{{.Sensor}}: {{end}}{{.IP}}</td><td>{{.Hostname}}</td><td class="n">{{.Sessions}}</td><td class="n bad">{{pct .NamedShare}}</td><td>{{with .EncryptedDNS}}encrypted DNS ({{join .}}): see below{{else}}DNS over HTTPS, a resolver off the span, or long-cached answers{{end}}</td></tr>{{end}}
</table>{{else}}<p class="ok">No host with most sessions unnamed.</p>{{end}}
<h3>DNS blind spots: hosts using encrypted DNS</h3>
{{if .EncryptedDNS}}<p class="bad">{{len .EncryptedDNS}} host(s) resolved names over DNS over HTTPS or TLS: the span sees none of their lookups.</p>
<p>Their sessions are named only from their own bytes (TLS SNI, QUIC, HTTP Host) or scored by address, and a periodic DNS lookup of theirs is not seen at all.</p>
<table><tr><th>host</th><th>name</th><th>encrypted-DNS provider</th><th class="n">sessions to it</th><th>first seen</th><th>last seen</th></tr>
{{range .EncryptedDNS}}<tr><td>{{if .Sensor}}{{.Sensor}}: {{end}}{{.IP}}</td><td>{{.Hostname}}</td><td>{{join .Providers}}</td><td class="n">{{.Sessions}}</td><td>{{ts .First}}</td><td>{{ts .Last}}</td></tr>{{end}}
</table>{{else}}<p class="ok">No host seen using an encrypted-DNS resolver (DoH, DoT) in the window.</p>{{end}}
<h3>Macs seen versus the MDM inventory</h3>
{{if .InventoryCompared}}
{{if .InventoryNotSeen}}<p class="bad">{{len .InventoryNotSeen}} inventory Mac(s) never seen: blind spots (off this span, or offline all window).</p>
<table><tr><th>hostname</th><th>serial</th><th>inventory addresses</th></tr>
{{range .InventoryNotSeen}}<tr><td>{{.Hostname}}</td><td>{{.Serial}}</td><td>{{.IPs}}</td></tr>{{end}}</table>
{{else}}<p class="ok">Every inventory Mac was seen.</p>{{end}}
{{if .SeenNotInventory}}<p>Macs seen but not in the inventory: {{range $i, $h := .SeenNotInventory}}{{if $i}}, {{end}}{{$h}}{{end}}.</p>{{end}}
{{else}}<p class="none">No inventory given (launchtap report --inventory FILE).</p>{{end}}
<h3>Per host: observation and the longest period it could show</h3>
<table><tr>{{if $.Org}}<th>sensor</th>{{end}}<th>host</th><th>name</th><th>OS</th><th>first seen</th><th>last seen</th><th class="n">active h</th><th class="n">unbroken h</th><th class="n">longest period</th></tr>
{{range .Hosts}}<tr>{{if $.Org}}<td>{{.Sensor}}</td>{{end}}<td>{{.IP}}</td><td>{{.Hostname}}</td><td>{{.OS}}{{if .Confidence}} ({{printf "%.2f" .Confidence}}){{end}}</td><td>{{ts .First}}</td><td>{{ts .Last}}</td><td class="n">{{.ActiveHours}}</td><td class="n">{{printf "%.0f" .ContinuousHours}}</td><td class="n" title="{{.PeriodLimitedBy}}">{{secs .LongestPeriodS}}</td></tr>
{{end}}</table>
{{end}}

<h2>2. Periodic communicators</h2>
<p>Every periodic (host, destination) found in the window, approved or not.</p>
{{if .Periodic}}<table><tr><th>status</th>{{if $.Org}}<th>sensor</th>{{end}}<th>host</th><th>destination</th><th class="n">period</th><th class="n">beats</th><th>first seen</th><th>last seen</th><th>launchd job (MDM)</th><th>approved by</th></tr>
{{range .Periodic}}<tr><td>{{if .Approved}}<span class="ok">approved</span>{{else}}<span class="bad">alerted</span>{{end}}</td>{{if $.Org}}<td>{{.Sensor}}</td>{{end}}
<td>{{.Src}}{{if .Hostname}}<br>{{.Hostname}}{{end}}{{if and .HostID (ne .HostID .Src)}}<br><code>{{.HostID}}</code>{{end}}</td><td>{{.Dest}}:{{.Port}}/{{.Proto}}{{if ne .Kind "session"}} ({{.Kind}}){{end}}</td>
<td class="n">{{secs .PeriodS}}</td><td class="n">{{.Beats}}</td><td>{{ts .First}}</td><td>{{ts .Last}}</td>
<td>{{.Job}}</td><td>{{if .Rule}}{{if eq .Status "approved_label"}}label rule {{else}}destination rule {{end}}<code>{{.Rule}}</code>{{else if .Approved}}the MDM's approval{{end}}</td></tr>
{{end}}</table>{{else}}<p class="none">No periodic communicator found in the window.</p>{{end}}

<h2>3. Alerts</h2>
{{range .Alerts}}<div class="alert">
<h3>{{.Src}}{{if .Hostname}} ({{.Hostname}}){{end}} → {{.Dest}}:{{.Port}}/{{.Proto}} every {{secs .PeriodS}} <span class="{{if eq .Severity "high"}}bad{{end}}">[{{.Severity}}, score {{printf "%.2f" .Score}}]</span></h3>
<p class="meta">{{if .Sensor}}sensor <b>{{.Sensor}}</b> · {{end}}id {{.ID}} · {{.Beats}} beats · first {{ts .First}} · last {{ts .Last}}{{if .Job}} · launchd job <b>{{.Job}}</b>{{if .JobProgram}} ({{.JobProgram}}){{end}}{{end}}</p>
<div class="pics"><div>{{timeline .BeatTimes}}</div><div>{{histogram .Intervals .PeriodS}}</div></div>
<ul class="reasons">{{range .Reasons}}<li>{{.}}</li>{{end}}</ul>
</div>{{else}}<p class="none">No alert in the window.</p>{{end}}

<h2>4. Baseline hygiene</h2>
{{with .Hygiene}}
{{if .Compared}}
{{if .UnusedRules}}<p>{{len .UnusedRules}} organisation rule(s) matched nothing in the window: remove them, or they approve whatever comes to match them later.</p>
<ul>{{range .UnusedRules}}<li><code>{{.}}</code></li>{{end}}</ul>{{else}}<p class="ok">Every organisation rule matched something.</p>{{end}}
<p class="meta">{{.UnusedBuiltin}} built-in rule(s) matched nothing (vendor services not in use here).</p>
{{else}}<p class="none">No baseline compared.</p>{{end}}
<h3>Approvals by launchd label alone</h3>
{{if .LabelApprovals}}<p>These were approved because the MDM named an approved job; their destination is not approved. A label is the weakest evidence: any program can use it.</p>
<table><tr><th>host</th><th>destination</th><th class="n">period</th><th>job</th><th>rule</th></tr>
{{range .LabelApprovals}}<tr><td>{{if .Sensor}}{{.Sensor}}: {{end}}{{.Src}} {{.Hostname}}</td><td>{{.Dest}}:{{.Port}}</td><td class="n">{{secs .PeriodS}}</td><td>{{.Job}}</td><td><code>{{.Rule}}</code></td></tr>{{end}}
</table>{{else}}<p class="ok">None.</p>{{end}}
{{end}}
</body>
</html>
`
