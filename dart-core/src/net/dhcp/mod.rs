//! Proxy-DHCP for PXE clients: tells a booting client which file to fetch
//! from which TFTP server, next to the DHCP server that gives it its
//! address.
//!
//! [`ProxyDhcp::start`] listens on the DHCP port (67) and the PXE port
//! (4011). Every PXE client's request it reads is shown to the caller's
//! [`Decide`] callback, which returns the [`BootOffer`] to make or `None` to
//! stay silent; it also learns from it which address a MAC got (option 50 of
//! the DHCPREQUEST a client broadcasts to the DHCP server). The server only
//! ever answers a DHCPDISCOVER on port 67 (with a DHCPOFFER) and a
//! DHCPREQUEST or DHCPINFORM on port 4011 (with a DHCPACK); a DHCPREQUEST on
//! port 67 is for the DHCP server and never answered. It never hands out an
//! address (`yiaddr` is always 0.0.0.0) and keeps no lease state.
//!
//! # What a reply contains, and why
//!
//! The model is dnsmasq's proxy mode (`dhcp_reply` in `src/rfc2131.c`, with
//! `pxe_misc`, `pxe_opts` and `pxe_uefi_workaround`), which boots OVMF,
//! iPXE and BIOS PXE ROMs; the client side was checked against EDK2's
//! `NetworkPkg/UefiPxeBcDxe/PxeBcDhcp4.c` and `NetworkPkg/Dhcp4Dxe`
//! (`Dhcp4Io.c`, `Dhcp4Impl.c`) and iPXE's `src/net/udp/dhcp.c`.
//!
//! Every reply ([`build_reply`]):
//!
//! - `op` 2, `htype`/`hlen`/`chaddr`, `xid`, `flags` and `giaddr` copied
//!   from the request; `yiaddr` 0.0.0.0. EDK2 and iPXE drop a reply whose
//!   `xid` or `chaddr` differ from their request.
//! - option 53 first (DHCPOFFER or DHCPACK), then 54 = the server's own
//!   address, 60 = `PXEClient`, 97 echoed when the client sent one (as
//!   dnsmasq's `pxe_misc` does), then 43 when it has one (below), then 252
//!   when the offer names a boot store (the BCD path Windows Boot Manager
//!   reads instead of `\Boot\BCD`, as Windows Deployment Services sends
//!   it), then the end option; padded to 300 bytes (the BOOTP minimum, RFC 1542).
//!   EDK2's DHCP driver drops an OFFER without option 54
//!   (`DhcpHandleSelect`); iPXE takes an offer as a PXE offer only with
//!   option 54 and a class starting with `PXEClient`, and takes a port-4011
//!   ACK only when its option 54 equals the offer's.
//! - `file` = the boot file (at most 127 bytes, so the 128-byte field keeps
//!   its NUL). EDK2 reads the name from option 67 when present, else from
//!   `file`; so does iPXE.
//!
//! **UEFI clients** (option 93, or the class's `Arch:` number, 6 or above:
//! dnsmasq's rule) get what dnsmasq sends them:
//!
//! - The OFFER has **no option 43**. EDK2 classifies a proxy offer (`yiaddr`
//!   0) with class `PXEClient` by its option 43: any of sub-options 6 to 10
//!   (discovery control, multicast address, boot servers, menu, prompt)
//!   makes it a "PXE 1.0" offer that goes through EDK2's boot menu and
//!   boot-server discovery (the code dnsmasq calls "badly broken" and
//!   avoids); without them it is a "BINL" offer
//!   (`PxeOfferTypeProxyBinl` in `PxeBcParseDhcp4Packet`). For a BINL
//!   offer, once the DHCP server's ACK has given the client an address,
//!   `PxeBcRetryBinlOffer` sends a DHCPREQUEST (with `ciaddr`, options
//!   53/55/57/60/93/94/97, a new `xid`) from port 4011 to port 4011 of the
//!   offer's `siaddr`, or of option 54 when `siaddr` is 0, and requires the
//!   answer to carry a boot file name.
//! - So the OFFER's `siaddr` is **this server's address** (dnsmasq: "Redirect
//!   EFI clients to port 4011"), not the TFTP server's, and the ACK on port
//!   4011 carries `siaddr` = the TFTP server, `sname` = its address as text
//!   and `file` = the boot file, again without option 43. EDK2 then takes
//!   the TFTP server from that ACK's `siaddr` (`PxeBcDhcp4BootInfo`: boot
//!   servers in option 43, else `siaddr`, else option 54) and fetches the
//!   file from its port 69. The OFFER keeps the boot file in `file` too: iPXE
//!   falls back to the offer when no port-4011 ACK comes.
//!
//! **BIOS and other clients** get `siaddr` = the TFTP server and option 43
//! = discovery control 8 ("boot the file named in this offer: no prompt, no
//! menu, no boot-server discovery", PXE 2.1 table 2-1) plus an empty menu
//! prompt with timeout 0, the bytes dnsmasq's `pxe_opts` sends when no menu
//! is configured. iPXE takes it as a proxy offer (no menu, sub-option 9) and
//! asks port 4011 like EDK2; the ACK carries the same fields.
//!
//! **UEFI HTTP Boot clients** (class `HTTPClient...`, option 93 = 15, 16
//! or 19) get class `HTTPClient`, no option 43, and the boot file's URL in
//! `file`: EDK2's `HttpBootDxe` takes such a proxy offer (`yiaddr` 0, a
//! URI with an IP address) as `HttpOfferTypeProxyIpUri` and pairs it with
//! the DHCP server's address-only offer (`HttpBootDhcp4.c`,
//! `HttpBootSelectDhcpOffer`); UEFI 2.10 section 24.7.2 describes the
//! exchange. They never ask port 4011.
//!
//! A boot item the client sent (option 43 sub-option 71, from PXE
//! boot-server discovery) is echoed in the reply's option 43.
//!
//! **Where replies go.** A reply to a DHCPDISCOVER goes from port 67 to
//! `giaddr`:67 when relayed, else to `ciaddr`:68 when the client has an
//! address, else to [`ProxyDhcpConfig::broadcast_to`]:68 (the client has no
//! address yet). A reply on port 4011 goes from the 4011 socket back to the
//! request's source address and port: EDK2 sends from and listens on port
//! 4011, iPXE sends from 68 and accepts the ACK only from source port 4011.
//!
//! **Consequences for callers.** The TFTP server should be this host
//! (`tftp_server` = `server_ip`); when it is not, EDK2 still asks this
//! server on port 4011 and then fetches from `tftp_server`. The 127-byte
//! limit on boot file names is the BOOTP field's.

pub mod packet;
pub mod server;

pub use packet::{build_reply, BootItem, BootOffer, ParseError, PxeRequest, RequestKind};
pub use server::{Decide, DhcpEvent, Port, ProxyDhcp, ProxyDhcpConfig};
