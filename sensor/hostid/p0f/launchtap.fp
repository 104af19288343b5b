;
; launchtap default TCP SYN signature database, in p0f v3 p0f.fp format.
; Written for launchtap from observed stacks; load p0f's own file or yours
; instead with --p0f-db FILE.
;
; Format (see the README, "Signature file format"):
;   label = type:class:name:flavor     type s = specific, g = generic
;   sig   = ver:ittl:olen:mss:wsize,scale:olayout:quirks:pclass
;
; Names launchtap maps to OS families: "Darwin" / "Mac OS X" / "macOS" / "iOS"
; -> the Apple Darwin stack (macOS and iOS share it: TCP alone cannot tell
; them apart), "Windows" -> windows, "Linux" -> linux, anything else -> other.
;
; Only [tcp:request] is read; other sections are skipped.

classes = win,unix,other

[tcp:request]

; -----------------------------------------------------------------------
; Apple Darwin (XNU). Current macOS and iOS/iPadOS send the same SYN:
; TTL 64, DF, window 65535, scale 6, mss,nop,ws,nop,nop,ts,sok,eol padded
; to 24 bytes, IP ID 0, and often an ECN-setup SYN (ECE+CWR).
; -----------------------------------------------------------------------

label = s:unix:Darwin:macOS 11+ or iOS 14+
sig   = *:64:0:*:65535,6:mss,nop,ws,nop,nop,ts,sok,eol+1:df,ecn:0
sig   = *:64:0:*:65535,6:mss,nop,ws,nop,nop,ts,sok,eol+1:df:0
sig   = *:64:0:*:65535,6:mss,nop,ws,nop,nop,ts,sok,eol+1:df,id+:0
sig   = *:64:0:*:65535,6:mss,nop,ws,nop,nop,ts,sok,eol+1:df,id+,ecn:0
sig   = 6:64:0:*:65535,6:mss,nop,ws,nop,nop,ts,sok,eol+1:ecn:0
sig   = 6:64:0:*:65535,6:mss,nop,ws,nop,nop,ts,sok,eol+1::0

label = s:unix:Darwin:macOS 10.9-10.15 or iOS 7-13
sig   = *:64:0:*:65535,5:mss,nop,ws,nop,nop,ts,sok,eol+1:df,id+:0
sig   = *:64:0:*:65535,5:mss,nop,ws,nop,nop,ts,sok,eol+1:df:0
sig   = *:64:0:*:65535,4:mss,nop,ws,nop,nop,ts,sok,eol+1:df,id+:0
sig   = *:64:0:*:65535,4:mss,nop,ws,nop,nop,ts,sok,eol+1:df:0
sig   = 6:64:0:*:65535,5:mss,nop,ws,nop,nop,ts,sok,eol+1::0
sig   = 6:64:0:*:65535,4:mss,nop,ws,nop,nop,ts,sok,eol+1::0

label = s:unix:Darwin:Mac OS X 10.x or iOS
sig   = *:64:0:*:65535,3:mss,nop,ws,nop,nop,ts,sok,eol+1:df,id+:0
sig   = *:64:0:*:65535,2:mss,nop,ws,nop,nop,ts,sok,eol+1:df,id+:0
sig   = *:64:0:*:65535,1:mss,nop,ws,nop,nop,ts,sok,eol+1:df,id+:0

label = g:unix:Darwin:
sig   = *:64:0:*:65535,*:mss,nop,ws,nop,nop,ts,sok,eol+1:df:0
sig   = *:64:0:*:*,*:mss,nop,ws,nop,nop,ts,sok,eol+1:df:0
sig   = 6:64:0:*:*,*:mss,nop,ws,nop,nop,ts,sok,eol+1::0

; -----------------------------------------------------------------------
; Windows (NT kernel). Windows 10 and 11: TTL 128, window 64240 (or 65535),
; scale 8, mss,nop,ws,nop,nop,sok, no timestamps, DF with a counting IP ID.
; -----------------------------------------------------------------------

label = s:win:Windows:10 or 11
sig   = *:128:0:*:64240,8:mss,nop,ws,nop,nop,sok:df,id+:0
sig   = *:128:0:*:65535,8:mss,nop,ws,nop,nop,sok:df,id+:0
sig   = *:128:0:*:64800,8:mss,nop,ws,nop,nop,sok:df,id+:0
sig   = 6:128:0:*:64800,8:mss,nop,ws,nop,nop,sok::0
sig   = 6:128:0:*:64240,8:mss,nop,ws,nop,nop,sok::0
sig   = 6:128:0:*:65535,8:mss,nop,ws,nop,nop,sok::0

label = s:win:Windows:7 or 8
sig   = *:128:0:*:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0
sig   = *:128:0:*:8192,2:mss,nop,ws,nop,nop,sok:df,id+:0
sig   = *:128:0:*:8192,0:mss,nop,nop,sok:df,id+:0

label = s:win:Windows:Server 2016+ (timestamps on)
sig   = *:128:0:*:64240,8:mss,nop,ws,sok,ts:df,id+:0
sig   = *:128:0:*:65535,8:mss,nop,ws,sok,ts:df,id+:0

label = g:win:Windows:NT kernel
sig   = *:128:0:*:*,*:mss,nop,ws,nop,nop,sok:df,id+:0
sig   = *:128:0:*:*,*:mss,nop,nop,sok:df,id+:0
sig   = 6:128:0:*:*,*:mss,nop,ws,nop,nop,sok::0

; -----------------------------------------------------------------------
; Linux. Window is the largest multiple of the MSS below 65535 (mss*44 for
; MSS 1460, mss*45 for 1440), scale 7 on current kernels, mss,sok,ts,nop,ws.
; -----------------------------------------------------------------------

label = s:unix:Linux:4.x-6.x
sig   = *:64:0:*:mss*44,7:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:mss*44,7:mss,sok,ts,nop,ws:df:0
sig   = *:64:0:*:mss*45,7:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:mss*45,7:mss,sok,ts,nop,ws:df:0
sig   = 6:64:0:*:mss*44,7:mss,sok,ts,nop,ws::0
sig   = 6:64:0:*:mss*45,7:mss,sok,ts,nop,ws::0

label = s:unix:Linux:3.11 and newer
sig   = *:64:0:*:mss*20,7:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:mss*20,10:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:mss*10,7:mss,sok,ts,nop,ws:df,id+:0

label = s:unix:Linux:Android
sig   = *:64:0:*:mss*44,8:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:mss*44,9:mss,sok,ts,nop,ws:df,id+:0
sig   = 6:64:0:*:mss*45,8:mss,sok,ts,nop,ws::0

label = g:unix:Linux:2.6-6.x
sig   = *:64:0:*:*,*:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:*,*:mss,sok,ts,nop,ws:df:0
sig   = 6:64:0:*:*,*:mss,sok,ts,nop,ws::0
sig   = *:64:0:*:*,*:mss,nop,nop,sok,nop,ws:df,id+:0

; -----------------------------------------------------------------------
; BSDs and others.
; -----------------------------------------------------------------------

label = s:unix:FreeBSD:11 or newer
sig   = *:64:0:*:65535,6:mss,nop,ws,sok,ts:df,id+:0
sig   = *:64:0:*:65535,6:mss,nop,ws,sok,ts:df:0
sig   = 6:64:0:*:65535,6:mss,nop,ws,sok,ts::0

label = g:unix:FreeBSD:
sig   = *:64:0:*:65535,*:mss,nop,ws,sok,ts:df,id+:0
sig   = *:64:0:*:65535,*:mss,nop,ws,sok,ts:df:0

label = s:unix:OpenBSD:5.x or newer
sig   = *:64:0:*:16384,6:mss,nop,nop,sok,nop,ws,nop,nop,ts:df,id+:0
sig   = *:64:0:*:16384,3:mss,nop,nop,sok,nop,ws,nop,nop,ts:df,id+:0

label = s:unix:Solaris:10 or 11
sig   = *:64:0:*:mss*34,0:mss,nop,ws,nop,nop,sok:df,id+:0
sig   = *:64:0:*:64436,*:nop,nop,ts,nop,nop,sok,mss,nop,ws:df,id+:0

; Scanners and tools: never an OS.
label = s:!:NMap:SYN scan
sys   = @unix,@win
sig   = *:64-:0:1460:1024,0:mss::0
sig   = *:64-:0:1460:2048,0:mss::0
sig   = *:64-:0:1460:3072,0:mss::0
sig   = *:64-:0:1460:4096,0:mss::0

