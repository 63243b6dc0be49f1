//! The PXE view of DHCP messages: parse a client's request, build the
//! proxy reply.
//!
//! The wire format is decoded and encoded with the `dhcproto` crate; this
//! module adds what a proxy needs around it:
//!
//! - a defensive front end: [`PxeRequest::parse`] checks the fixed header,
//!   the magic cookie and every option's length itself before `dhcproto`
//!   sees a byte, and hands `dhcproto` only the options it uses, one at a
//!   time, with lengths already checked. (`dhcproto` stops decoding at the
//!   first option it cannot read, so one odd option would hide the ones
//!   after it, and some of its option decoders assert on lengths.) Any byte
//!   string gives a request, `Ok(None)` or a [`ParseError`], never a
//!   panic, in time linear in its length. Options split over several
//!   instances are joined (RFC 3396), and options overloaded into the
//!   `file` and `sname` fields are read (RFC 2132 option 52).
//! - [`build_reply`], which writes the proxy OFFER or ACK described in the
//!   [module documentation](super).

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use dhcproto::v4::{
    Decodable, Decoder, DhcpOption, Encodable, Flags, HType, Message, MessageType, Opcode,
    OptionCode,
};

use crate::error::{Error, Result};

/// The DHCP server port (67), where relay agents also listen.
pub const SERVER_PORT: u16 = 67;

/// The DHCP client port (68).
pub const CLIENT_PORT: u16 = 68;

/// The PXE boot-server port (4011), where PXE clients ask a proxy for their
/// boot file once they have an address.
pub const PXE_PORT: u16 = 4011;

/// Longest boot file name, in bytes: the BOOTP `file` field holds 128
/// bytes including the terminating NUL.
pub const MAX_BOOT_FILE: usize = 127;

/// Smallest architecture code (DHCP option 93) of a UEFI client; dnsmasq
/// uses the same bound. 0 is BIOS, 6 UEFI IA32, 7 and 9 UEFI x64, 11 UEFI
/// ARM64.
pub const FIRST_UEFI_ARCH: u16 = 6;

/// The vendor class (option 60) every PXE client's class starts with, and
/// the one a PXE server answers with.
const PXE_CLIENT: &[u8] = b"PXEClient";
/// The vendor class of UEFI HTTP Boot clients (UEFI 2.10 section 24.7.2).
const HTTP_CLIENT: &[u8] = b"HTTPClient";

/// Bytes of the fixed BOOTP header, before the magic cookie.
const HEADER_LEN: usize = 236;

/// The DHCP magic cookie (RFC 2131 section 3).
const MAGIC: [u8; 4] = [99, 130, 83, 99];

/// Replies are padded to the BOOTP minimum (RFC 1542 section 2.1).
const MIN_REPLY_LEN: usize = 300;

/// Where the `sname` and `file` fields are in the header.
const SNAME: std::ops::Range<usize> = 44..108;
const FILE: std::ops::Range<usize> = 108..236;

// Option codes used here.
const OPT_PAD: u8 = 0;
const OPT_VENDOR: u8 = 43;
const OPT_REQUESTED_IP: u8 = 50;
const OPT_OVERLOAD: u8 = 52;
const OPT_MESSAGE_TYPE: u8 = 53;
const OPT_SERVER_ID: u8 = 54;
const OPT_CLASS_ID: u8 = 60;
const OPT_USER_CLASS: u8 = 77;
const OPT_ARCH: u8 = 93;
const OPT_NIC: u8 = 94;
const OPT_UUID: u8 = 97;
const OPT_BOOT_STORE: u8 = 252;
const OPT_END: u8 = 255;

// PXE vendor sub-options inside option 43 (PXE 2.1 specification, table
// 2-1).
const PXE_DISCOVERY_CONTROL: u8 = 6;
const PXE_MENU_PROMPT: u8 = 10;
const PXE_BOOT_ITEM: u8 = 71;

/// The DHCP message types a proxy answers (option 53).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestKind {
    /// DHCPDISCOVER: a client looking for offers (answered on port 67).
    Discover,
    /// DHCPREQUEST: to the DHCP server on port 67 (never answered by the
    /// proxy), or for the boot file on port 4011 (answered).
    Request,
    /// DHCPINFORM: a configured client asking for parameters (answered on
    /// port 4011).
    Inform,
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequestKind::Discover => "DHCPDISCOVER",
            RequestKind::Request => "DHCPREQUEST",
            RequestKind::Inform => "DHCPINFORM",
        })
    }
}

/// A PXE boot item (option 43 sub-option 71): the boot server type and
/// layer a client asks a boot server for, echoed in the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BootItem {
    /// The boot server type (0 is the PXE bootstrap server).
    pub server_type: u16,
    /// The layer, with the credentials-requested bit (bit 15).
    pub layer: u16,
}

/// The PXE view of a client's DHCP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PxeRequest {
    /// The message type.
    pub kind: RequestKind,
    /// Transaction id; the reply carries it back.
    pub xid: u32,
    /// The client's Ethernet address (`chaddr`).
    pub mac: [u8; 6],
    /// Client system architecture (option 93, first entry; RFC 4578): 0
    /// BIOS, 6 UEFI IA32, 7 and 9 UEFI x64, 11 UEFI ARM64.
    pub client_arch: Option<u16>,
    /// Vendor class (option 60), e.g. `PXEClient:Arch:00007:UNDI:003016`;
    /// bytes that are not UTF-8 are replaced by U+FFFD.
    pub vendor_class: String,
    /// Client machine identifier (option 97) as sent: a type byte (0) and
    /// the SMBIOS UUID. Echoed in replies. `None` when absent or empty.
    pub uuid: Option<Vec<u8>>,
    /// The client's address (`ciaddr`); 0.0.0.0 while it has none.
    pub ciaddr: Ipv4Addr,
    /// Requested address (option 50): on the DHCPREQUEST a client sends to
    /// the DHCP server, the address it is about to get.
    pub requested_ip: Option<Ipv4Addr>,
    /// Server identifier (option 54): the server the client addresses.
    pub server_id: Option<Ipv4Addr>,
    /// The broadcast bit of `flags`: the client cannot receive unicast
    /// before it has an address.
    pub broadcast: bool,
    /// Relay agent address (`giaddr`); 0.0.0.0 when not relayed.
    pub giaddr: Ipv4Addr,
    /// Client network interface identifier (option 94, RFC 4578): UNDI
    /// type, major and minor version.
    pub network_interface: Option<[u8; 3]>,
    /// PXE boot item (option 43 sub-option 71), sent in boot-server
    /// requests; echoed in the reply.
    pub boot_item: Option<BootItem>,
    /// User class (option 77) as sent: iPXE sends `iPXE`.
    pub user_class: Option<Vec<u8>>,
}

/// What to tell a PXE client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootOffer {
    /// The file to boot, as the TFTP server resolves it (1 to
    /// [`MAX_BOOT_FILE`] bytes, no NUL), e.g. `boot/x64/wdsmgfw.efi`.
    pub boot_file: String,
    /// The TFTP server the client fetches the file from (port 69).
    pub tftp_server: Ipv4Addr,
    /// The boot store Windows Boot Manager reads (DHCP option 252, as
    /// Windows Deployment Services sends it), e.g.
    /// `\dart\menu\x64-uefi.bcd`; 1 to 255 bytes without NUL. `None`:
    /// the boot manager asks for `\Boot\BCD`.
    pub boot_store: Option<String>,
}

/// Why bytes are not a DHCP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Shorter than the fixed BOOTP header and the magic cookie.
    #[error(
        "DHCP message of {len} bytes is too short: the header and magic cookie take 240 bytes"
    )]
    TooShort {
        /// Bytes received.
        len: usize,
    },
    /// The BOOTP `op` is neither 1 (request) nor 2 (reply).
    #[error("BOOTP op {0} is neither 1 (request) nor 2 (reply)")]
    UnknownOp(u8),
    /// The magic cookie is wrong: plain BOOTP or not DHCP at all.
    #[error("the DHCP magic cookie is {0:02x?}, not [63, 82, 53, 63]")]
    BadMagic([u8; 4]),
    /// The hardware address is not Ethernet.
    #[error("hardware type {htype} with address length {hlen} is not Ethernet (type 1, length 6)")]
    NotEthernet {
        /// `htype`.
        htype: u8,
        /// `hlen`.
        hlen: u8,
    },
    /// An option's length runs past the end of its field.
    #[error("option {code} at byte {offset} runs past the end of the message")]
    TruncatedOption {
        /// The option code.
        code: u8,
        /// Where the option starts in the message.
        offset: usize,
    },
    /// An option has a length its type does not allow.
    #[error("option {code} of {len} bytes is malformed: {reason}")]
    BadOption {
        /// The option code.
        code: u8,
        /// Its length (after joining split instances).
        len: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The codec refused a field.
    #[error("DHCP option {code} cannot be decoded: {detail}")]
    Codec {
        /// The option code (0 for the fixed header).
        code: u8,
        /// The codec's message.
        detail: String,
    },
}

impl PxeRequest {
    /// Parses a message received on port 67 or 4011.
    ///
    /// `Ok(None)`: a well-formed message that is not a PXE client's
    /// request: a BOOTREPLY, plain BOOTP, a class (option 60) that starts
    /// with neither `PXEClient` nor `HTTPClient`, or a type a proxy never answers (DECLINE,
    /// RELEASE, ...). `Err`: bytes that are not a DHCP message. Never
    /// panics.
    pub fn parse(bytes: &[u8]) -> Result<Option<PxeRequest>, ParseError> {
        let (Some(&op), Some(magic)) = (bytes.first(), bytes.get(HEADER_LEN..HEADER_LEN + 4))
        else {
            return Err(ParseError::TooShort { len: bytes.len() });
        };
        match op {
            1 => {}
            2 => return Ok(None),
            other => return Err(ParseError::UnknownOp(other)),
        }
        if magic != MAGIC {
            let mut found = [0; 4];
            found.copy_from_slice(magic);
            return Err(ParseError::BadMagic(found));
        }
        // The fixed header only: the options are walked below.
        let header = Message::decode(&mut Decoder::new(&bytes[..HEADER_LEN + 4])).map_err(|e| {
            ParseError::Codec {
                code: 0,
                detail: e.to_string(),
            }
        })?;
        // Checked before `chaddr()`, which slices by `hlen`.
        let not_ethernet = ParseError::NotEthernet {
            htype: u8::from(header.htype()),
            hlen: header.hlen(),
        };
        if header.htype() != HType::Eth || header.hlen() != 6 {
            return Err(not_ethernet);
        }
        let mac: [u8; 6] = header.chaddr().try_into().map_err(|_| not_ethernet)?;
        let options = collect_options(bytes)?;

        let kind = match options.get(&OPT_MESSAGE_TYPE) {
            // BOOTP, not DHCP: PXE clients always use DHCP.
            None => return Ok(None),
            Some(value) => {
                check_len(OPT_MESSAGE_TYPE, value, |n| n == 1, "it must be 1 byte")?;
                match decode(OPT_MESSAGE_TYPE, value)? {
                    DhcpOption::MessageType(MessageType::Discover) => RequestKind::Discover,
                    DhcpOption::MessageType(MessageType::Request) => RequestKind::Request,
                    DhcpOption::MessageType(MessageType::Inform) => RequestKind::Inform,
                    _ => return Ok(None),
                }
            }
        };
        let vendor_class = match options.get(&OPT_CLASS_ID) {
            Some(value) if value.starts_with(PXE_CLIENT) || value.starts_with(HTTP_CLIENT) => {
                match decode(OPT_CLASS_ID, value)? {
                    DhcpOption::ClassIdentifier(class) => {
                        String::from_utf8_lossy(&class).into_owned()
                    }
                    _ => return Err(unexpected(OPT_CLASS_ID)),
                }
            }
            _ => return Ok(None),
        };

        let requested_ip = address(&options, OPT_REQUESTED_IP)?;
        let server_id = address(&options, OPT_SERVER_ID)?;
        let client_arch = match options.get(&OPT_ARCH) {
            None => None,
            Some(value) => {
                check_len(
                    OPT_ARCH,
                    value,
                    |n| n >= 2 && n % 2 == 0,
                    "it must be a list of 2-byte architecture types",
                )?;
                match decode(OPT_ARCH, value)? {
                    DhcpOption::ClientSystemArchitecture(arch) => Some(u16::from(arch)),
                    _ => return Err(unexpected(OPT_ARCH)),
                }
            }
        };
        let network_interface = match options.get(&OPT_NIC) {
            None => None,
            Some(value) => {
                check_len(OPT_NIC, value, |n| n == 3, "it must be 3 bytes")?;
                match decode(OPT_NIC, value)? {
                    DhcpOption::ClientNetworkInterface(t, major, minor) => Some([t, major, minor]),
                    _ => return Err(unexpected(OPT_NIC)),
                }
            }
        };
        let uuid = match options.get(&OPT_UUID) {
            Some(value) if !value.is_empty() => match decode(OPT_UUID, value)? {
                DhcpOption::ClientMachineIdentifier(id) => Some(id),
                _ => return Err(unexpected(OPT_UUID)),
            },
            _ => None,
        };
        let boot_item = match options.get(&OPT_VENDOR) {
            Some(value) if !value.is_empty() => match decode(OPT_VENDOR, value)? {
                DhcpOption::VendorExtensions(vendor) => find_boot_item(&vendor),
                _ => return Err(unexpected(OPT_VENDOR)),
            },
            _ => None,
        };

        let user_class = options
            .get(&OPT_USER_CLASS)
            .filter(|v| !v.is_empty())
            .cloned();

        Ok(Some(PxeRequest {
            kind,
            xid: header.xid(),
            mac,
            client_arch,
            vendor_class,
            uuid,
            ciaddr: header.ciaddr(),
            requested_ip,
            server_id,
            broadcast: header.flags().broadcast(),
            giaddr: header.giaddr(),
            network_interface,
            boot_item,
            user_class,
        }))
    }

    /// The address this client is known by after this message, if any:
    /// `ciaddr` if non-zero, else option 50 on a DHCPREQUEST.
    pub fn client_ip(&self) -> Option<Ipv4Addr> {
        if !self.ciaddr.is_unspecified() {
            Some(self.ciaddr)
        } else if self.kind == RequestKind::Request {
            self.requested_ip
        } else {
            None
        }
    }

    /// The client's architecture: option 93, or else the number in a vendor
    /// class of the form `PXEClient:Arch:00007:...` (or `HTTPClient:...`).
    pub fn architecture(&self) -> Option<u16> {
        self.client_arch.or_else(|| {
            let digits = self
                .vendor_class
                .strip_prefix("PXEClient:Arch:")
                .or_else(|| self.vendor_class.strip_prefix("HTTPClient:Arch:"))?
                .get(..5)?;
            if digits.bytes().all(|b| b.is_ascii_digit()) {
                digits.parse().ok()
            } else {
                None
            }
        })
    }

    /// Whether the client is a UEFI HTTP Boot client (vendor class
    /// `HTTPClient...`): it fetches its boot file by the URL in the reply,
    /// not over TFTP.
    pub fn is_http(&self) -> bool {
        self.vendor_class.as_bytes().starts_with(HTTP_CLIENT)
    }

    /// Whether the client is iPXE: user class (option 77) `iPXE`, sent raw
    /// or as an RFC 3004 list entry.
    pub fn is_ipxe(&self) -> bool {
        self.user_class.as_deref().is_some_and(|c| {
            c == b"iPXE" || (c.first() == Some(&4) && c.get(1..5) == Some(&b"iPXE"[..]))
        })
    }

    /// Whether the client is UEFI firmware (architecture 6 or above, as
    /// dnsmasq decides); such clients get the port-4011 style of offer
    /// described in the [module documentation](super).
    pub fn is_uefi(&self) -> bool {
        self.architecture()
            .is_some_and(|arch| arch >= FIRST_UEFI_ARCH)
    }
}

/// The proxy reply's bytes: DHCPOFFER to a DISCOVER, DHCPACK to a REQUEST
/// or INFORM (on port 4011). See the [module documentation](super) for what
/// it contains and why.
///
/// Fails with [`Error::InvalidSetting`] when the boot file is empty, longer
/// than [`MAX_BOOT_FILE`] bytes or contains a NUL byte, or when the TFTP
/// server or `server_ip` is not a unicast address.
pub fn build_reply(
    request: &PxeRequest,
    offer: &BootOffer,
    server_ip: Ipv4Addr,
) -> Result<Vec<u8>> {
    let file = offer.boot_file.as_bytes();
    if file.is_empty() || file.len() > MAX_BOOT_FILE || file.contains(&0) {
        return Err(Error::invalid(
            "PXE boot file",
            &offer.boot_file,
            format!(
                "give 1 to {MAX_BOOT_FILE} bytes without NUL: the BOOTP file field holds 128 bytes"
            ),
        ));
    }
    for (field, ip) in [
        ("PXE TFTP server", offer.tftp_server),
        ("proxy-DHCP server address", server_ip),
    ] {
        if !is_unicast(ip) {
            return Err(Error::invalid(
                field,
                ip,
                "it must be the unicast address clients reach the server at",
            ));
        }
    }

    if let Some(store) = &offer.boot_store {
        if store.is_empty() || store.len() > 255 || store.contains('\0') {
            return Err(Error::invalid(
                "boot store path (DHCP option 252)",
                store,
                "give 1 to 255 bytes without NUL",
            ));
        }
    }

    let uefi = request.is_uefi();
    let http = request.is_http();
    let (message_type, ciaddr) = match request.kind {
        RequestKind::Discover => (MessageType::Offer, Ipv4Addr::UNSPECIFIED),
        RequestKind::Request | RequestKind::Inform => (MessageType::Ack, request.ciaddr),
    };
    // EDK2 sends its port-4011 request to siaddr (option 54 only when siaddr
    // is 0), so a UEFI client's OFFER names this server there; the ACK then
    // names the TFTP server.
    let siaddr = if (uefi || http) && message_type == MessageType::Offer {
        server_ip
    } else {
        offer.tftp_server
    };
    let mut message = Message::new_with_id(
        request.xid,
        ciaddr,
        Ipv4Addr::UNSPECIFIED,
        siaddr,
        request.giaddr,
        &request.mac,
    );
    message
        .set_opcode(Opcode::BootReply)
        .set_htype(HType::Eth)
        .set_flags(if request.broadcast {
            Flags::default().set_broadcast()
        } else {
            Flags::default()
        })
        .set_fname(file);
    if message_type == MessageType::Ack {
        message.set_sname_str(offer.tftp_server.to_string());
    }

    let mut options = vec![
        DhcpOption::MessageType(message_type),
        DhcpOption::ServerIdentifier(server_ip),
        DhcpOption::ClassIdentifier(if http { HTTP_CLIENT } else { PXE_CLIENT }.to_vec()),
    ];
    if let Some(uuid) = &request.uuid {
        options.push(DhcpOption::ClientMachineIdentifier(uuid.clone()));
    }
    // An HTTP Boot client reads no PXE options; EDK2's HttpBootDxe takes an
    // offer with class HTTPClient, no address (a proxy offer) and a URI in
    // `file` as `HttpOfferTypeProxyIpUri` and pairs it with the DHCP
    // server's address-only offer (`HttpBootDhcp4.c`).
    let vendor = if http {
        None
    } else {
        vendor_options(uefi, request.boot_item)
    };
    if let Some(vendor) = vendor {
        options.push(DhcpOption::VendorExtensions(vendor));
    }

    let codec_error = |e: dhcproto::error::EncodeError| {
        Error::invalid(
            "proxy-DHCP reply",
            format!("xid {:#010x}", request.xid),
            format!("the DHCP codec could not encode it: {e}"),
        )
    };
    // The header alone (no options are set on the message), then the
    // options in the order dnsmasq sends them: message type first.
    let mut bytes = message.to_vec().map_err(codec_error)?;
    for option in &options {
        bytes.extend(option.to_vec().map_err(codec_error)?);
    }
    if let Some(store) = &offer.boot_store {
        // Checked above: 1 to 255 bytes.
        bytes.push(OPT_BOOT_STORE);
        bytes.push(store.len() as u8);
        bytes.extend(store.as_bytes());
    }
    bytes.push(OPT_END);
    if bytes.len() < MIN_REPLY_LEN {
        bytes.resize(MIN_REPLY_LEN, OPT_PAD);
    }
    Ok(bytes)
}

/// Option 43 of a reply, if it has one.
///
/// A BIOS (PXE 2.1) client gets discovery control 8 ("boot the file in this
/// offer, no menu, no boot server discovery") and an empty menu prompt with
/// timeout 0, the bytes dnsmasq sends. A UEFI client gets no option 43:
/// EDK2 classifies any offer carrying sub-options 6 to 10 as a PXE 1.0
/// offer and runs its boot-menu discovery on it; without them the offer is
/// a "BINL" offer and EDK2 asks port 4011 for the boot file instead. A
/// boot item the client sent (sub-option 71) is echoed in either case.
fn vendor_options(uefi: bool, boot_item: Option<BootItem>) -> Option<Vec<u8>> {
    let mut vendor = Vec::new();
    if !uefi {
        vendor.extend_from_slice(&[PXE_DISCOVERY_CONTROL, 1, 8]);
        vendor.extend_from_slice(&[PXE_MENU_PROMPT, 4, 0, b'P', b'X', b'E']);
    }
    if let Some(item) = boot_item {
        vendor.extend_from_slice(&[PXE_BOOT_ITEM, 4]);
        vendor.extend_from_slice(&item.server_type.to_be_bytes());
        vendor.extend_from_slice(&item.layer.to_be_bytes());
    }
    if vendor.is_empty() {
        return None;
    }
    vendor.push(OPT_END);
    Some(vendor)
}

fn is_unicast(ip: Ipv4Addr) -> bool {
    !(ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast())
}

/// Every option of the message, split instances joined (RFC 3396), with
/// options overloaded into `file` and `sname` (option 52) read after the
/// options field, in the order RFC 2131 section 4.1 gives.
fn collect_options(bytes: &[u8]) -> Result<BTreeMap<u8, Vec<u8>>, ParseError> {
    let mut options = BTreeMap::new();
    let start = HEADER_LEN + 4;
    walk_options(bytes.get(start..).unwrap_or_default(), start, &mut options)?;
    if let Some(overload) = options.remove(&OPT_OVERLOAD) {
        let flags = match overload.as_slice() {
            [flags] => *flags,
            _ => {
                return Err(ParseError::BadOption {
                    code: OPT_OVERLOAD,
                    len: overload.len(),
                    reason: "it must be 1 byte",
                })
            }
        };
        if flags & 1 != 0 {
            let file = bytes.get(FILE).unwrap_or_default();
            walk_options(file, FILE.start, &mut options)?;
        }
        if flags & 2 != 0 {
            let sname = bytes.get(SNAME).unwrap_or_default();
            walk_options(sname, SNAME.start, &mut options)?;
        }
        options.remove(&OPT_OVERLOAD);
    }
    Ok(options)
}

/// Walks one field of options up to its end option (or its end, which some
/// clients send without an end option).
fn walk_options(
    field: &[u8],
    base: usize,
    options: &mut BTreeMap<u8, Vec<u8>>,
) -> Result<(), ParseError> {
    let mut at = 0;
    while let Some(&code) = field.get(at) {
        match code {
            OPT_PAD => at += 1,
            OPT_END => break,
            _ => {
                let truncated = ParseError::TruncatedOption {
                    code,
                    offset: base + at,
                };
                let len = usize::from(*field.get(at + 1).ok_or(truncated.clone())?);
                let value = field.get(at + 2..at + 2 + len).ok_or(truncated)?;
                options.entry(code).or_default().extend_from_slice(value);
                at += 2 + len;
            }
        }
    }
    Ok(())
}

fn check_len(
    code: u8,
    value: &[u8],
    ok: impl Fn(usize) -> bool,
    reason: &'static str,
) -> Result<(), ParseError> {
    if ok(value.len()) {
        Ok(())
    } else {
        Err(ParseError::BadOption {
            code,
            len: value.len(),
            reason,
        })
    }
}

/// Decodes one option value with the codec; long values are split into
/// 255-byte instances, which the codec joins again.
fn decode(code: u8, value: &[u8]) -> Result<DhcpOption, ParseError> {
    let mut framed = Vec::with_capacity(value.len() + 2 * (value.len() / 255 + 1));
    if value.is_empty() {
        framed.extend_from_slice(&[code, 0]);
    }
    for chunk in value.chunks(255) {
        framed.push(code);
        // A chunk is at most 255 bytes.
        framed.push(u8::try_from(chunk.len()).unwrap_or(u8::MAX));
        framed.extend_from_slice(chunk);
    }
    framed.push(OPT_END);
    let option = DhcpOption::decode(&mut Decoder::new(&framed)).map_err(|e| ParseError::Codec {
        code,
        detail: e.to_string(),
    })?;
    if OptionCode::from(&option) == OptionCode::from(code) {
        Ok(option)
    } else {
        Err(unexpected(code))
    }
}

fn unexpected(code: u8) -> ParseError {
    ParseError::Codec {
        code,
        detail: "the codec returned a different option".to_owned(),
    }
}

fn address(options: &BTreeMap<u8, Vec<u8>>, code: u8) -> Result<Option<Ipv4Addr>, ParseError> {
    let Some(value) = options.get(&code) else {
        return Ok(None);
    };
    check_len(code, value, |n| n == 4, "an IPv4 address is 4 bytes")?;
    match decode(code, value)? {
        DhcpOption::RequestedIpAddress(ip) | DhcpOption::ServerIdentifier(ip) => Ok(Some(ip)),
        _ => Err(unexpected(code)),
    }
}

/// Sub-option 71 of a PXE option 43, if well formed; the rest of option 43
/// is of no use to a proxy and never fails a request.
fn find_boot_item(vendor: &[u8]) -> Option<BootItem> {
    let mut sub = BTreeMap::new();
    walk_options(vendor, 0, &mut sub).ok()?;
    match sub.get(&PXE_BOOT_ITEM)?.as_slice() {
        [t0, t1, l0, l1] => Some(BootItem {
            server_type: u16::from_be_bytes([*t0, *t1]),
            layer: u16::from_be_bytes([*l0, *l1]),
        }),
        _ => None,
    }
}

/// Fuzz entry point: parse arbitrary bytes; whatever parses as a PXE
/// request must give a reply that the codec decodes back to the request's
/// identity and the offer's values. Never panics otherwise.
#[cfg(feature = "fuzzing")]
pub fn fuzz_one(data: &[u8]) {
    let Ok(Some(request)) = PxeRequest::parse(data) else {
        return;
    };
    let _ = request.client_ip();
    let offer = BootOffer {
        boot_file: "boot/x64/wdsmgfw.efi".to_owned(),
        tftp_server: Ipv4Addr::new(192, 0, 2, 69),
        boot_store: None,
    };
    let server_ip = Ipv4Addr::new(192, 0, 2, 1);
    match build_reply(&request, &offer, server_ip) {
        Ok(reply) => check_reply(&request, &offer, server_ip, &reply),
        Err(e) => panic!("a parsed request must get a reply: {e}"),
    }
}

/// Asserts that `reply`, decoded by the codec on its own, answers `request`
/// with `offer`.
#[cfg(any(test, feature = "fuzzing"))]
fn check_reply(request: &PxeRequest, offer: &BootOffer, server_ip: Ipv4Addr, reply: &[u8]) {
    assert_eq!(PxeRequest::parse(reply), Ok(None), "a reply is a BOOTREPLY");
    let message = match Message::decode(&mut Decoder::new(reply)) {
        Ok(message) => message,
        Err(e) => panic!("the reply must decode: {e}"),
    };
    assert_eq!(message.opcode(), Opcode::BootReply);
    assert_eq!(message.xid(), request.xid);
    assert_eq!(message.chaddr(), request.mac);
    assert_eq!(message.giaddr(), request.giaddr);
    assert_eq!(message.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(message.flags().broadcast(), request.broadcast);
    let expected_type = match request.kind {
        RequestKind::Discover => MessageType::Offer,
        RequestKind::Request | RequestKind::Inform => MessageType::Ack,
    };
    assert_eq!(message.opts().msg_type(), Some(expected_type));
    let siaddr = if request.is_uefi() && expected_type == MessageType::Offer {
        server_ip
    } else {
        offer.tftp_server
    };
    assert_eq!(message.siaddr(), siaddr);
    let mut file = offer.boot_file.as_bytes().to_vec();
    file.push(0);
    assert_eq!(message.fname(), Some(file.as_slice()));
    assert_eq!(
        message.opts().get(OptionCode::ServerIdentifier),
        Some(&DhcpOption::ServerIdentifier(server_ip))
    );
    assert_eq!(
        message.opts().get(OptionCode::ClassIdentifier),
        Some(&DhcpOption::ClassIdentifier(PXE_CLIENT.to_vec()))
    );
    assert_eq!(
        message.opts().get(OptionCode::ClientMachineIdentifier),
        request
            .uuid
            .as_ref()
            .map(|uuid| DhcpOption::ClientMachineIdentifier(uuid.clone()))
            .as_ref()
    );
    assert!(reply.len() >= MIN_REPLY_LEN);
    assert_eq!(reply.get(HEADER_LEN + 4), Some(&OPT_MESSAGE_TYPE));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
    const UUID: [u8; 17] = [
        0, 0x8a, 0x3e, 0x42, 0x1c, 0x5d, 0x1f, 0x4b, 0x9c, 0x21, 0x77, 0x01, 0x02, 0x03, 0x04,
        0x05, 0x06,
    ];

    /// A BOOTREQUEST header with the magic cookie, then `options` as given
    /// (raw bytes, with their end option).
    fn message(ciaddr: [u8; 4], flags: u16, options: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; 240];
        m[0] = 1;
        m[1] = 1;
        m[2] = 6;
        m[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        m[10..12].copy_from_slice(&flags.to_be_bytes());
        m[12..16].copy_from_slice(&ciaddr);
        m[28..34].copy_from_slice(&MAC);
        m[236..240].copy_from_slice(&MAGIC);
        m.extend_from_slice(options);
        m
    }

    fn option(code: u8, value: &[u8]) -> Vec<u8> {
        let mut o = vec![code, value.len() as u8];
        o.extend_from_slice(value);
        o
    }

    /// What OVMF's PXE driver sends (PxeBcBuildDhcp4Options in EDK2's
    /// NetworkPkg/UefiPxeBcDxe/PxeBcDhcp4.c): 53, 57, 55, 97, 94, 93, 60.
    fn edk2(message_type: u8, arch: u16, ciaddr: [u8; 4], extra: &[u8]) -> Vec<u8> {
        let mut o = option(53, &[message_type]);
        o.extend(option(57, &1464u16.to_be_bytes()));
        o.extend(option(
            55,
            &[
                1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58,
                59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135,
            ],
        ));
        o.extend(option(97, &UUID));
        o.extend(option(94, &[1, 3, 0]));
        o.extend(option(93, &arch.to_be_bytes()));
        o.extend(option(
            60,
            format!("PXEClient:Arch:{arch:05}:UNDI:003000").as_bytes(),
        ));
        o.extend_from_slice(extra);
        o.push(255);
        message(ciaddr, 0x8000, &o)
    }

    fn offer() -> BootOffer {
        BootOffer {
            boot_file: "boot/x64/wdsmgfw.efi".into(),
            tftp_server: Ipv4Addr::new(10, 0, 0, 2),
            boot_store: None,
        }
    }

    const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

    fn decoded(reply: &[u8]) -> Message {
        Message::decode(&mut Decoder::new(reply)).unwrap()
    }

    #[test]
    fn edk2_discover_parses() {
        let r = PxeRequest::parse(&edk2(1, 7, [0; 4], &[]))
            .unwrap()
            .unwrap();
        assert_eq!(r.kind, RequestKind::Discover);
        assert_eq!(r.xid, 0x1234_5678);
        assert_eq!(r.mac, MAC);
        assert_eq!(r.client_arch, Some(7));
        assert_eq!(r.vendor_class, "PXEClient:Arch:00007:UNDI:003000");
        assert_eq!(r.uuid.as_deref(), Some(&UUID[..]));
        assert_eq!(r.network_interface, Some([1, 3, 0]));
        assert!(r.broadcast);
        assert_eq!(r.ciaddr, Ipv4Addr::UNSPECIFIED);
        assert_eq!(r.giaddr, Ipv4Addr::UNSPECIFIED);
        assert_eq!(r.requested_ip, None);
        assert_eq!(r.server_id, None);
        assert_eq!(r.boot_item, None);
        assert_eq!(r.client_ip(), None);
        assert!(r.is_uefi());
    }

    /// What OVMF's HTTP Boot driver sends (HttpBootDhcp4.c): option 93 =
    /// 16 (x64 UEFI HTTP) and class `HTTPClient:Arch:00016:UNDI:003000`.
    fn edk2_http(arch: u16) -> Vec<u8> {
        let mut o = option(53, &[1]);
        o.extend(option(97, &UUID));
        o.extend(option(94, &[1, 3, 0]));
        o.extend(option(93, &arch.to_be_bytes()));
        o.extend(option(
            60,
            format!("HTTPClient:Arch:{arch:05}:UNDI:003000").as_bytes(),
        ));
        o.push(255);
        message([0; 4], 0x8000, &o)
    }

    #[test]
    fn http_boot_clients_get_a_proxy_offer_with_the_url() {
        let r = PxeRequest::parse(&edk2_http(16)).unwrap().unwrap();
        assert!(r.is_http() && r.is_uefi() && !r.is_ipxe());
        assert_eq!(r.architecture(), Some(16));
        let offer = BootOffer {
            boot_file: "http://10.0.0.1/images/rescue/1/efi/boot/bootx64.efi".into(),
            tftp_server: SERVER,
            boot_store: None,
        };
        let m = decoded(&build_reply(&r, &offer, SERVER).unwrap());
        assert_eq!(m.yiaddr(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(
            m.fname(),
            Some(&b"http://10.0.0.1/images/rescue/1/efi/boot/bootx64.efi\0"[..])
        );
        let opts = m.opts();
        assert_eq!(
            opts.get(OptionCode::ClassIdentifier),
            Some(&DhcpOption::ClassIdentifier(b"HTTPClient".to_vec()))
        );
        assert_eq!(opts.get(OptionCode::VendorExtensions), None);
        // Without option 93, the class names the architecture.
        let mut bare = edk2_http(16);
        let at = bare.windows(4).position(|w| w == [93, 2, 0, 16]).unwrap();
        bare[at..at + 4].copy_from_slice(&[0, 0, 0, 0]);
        let r = PxeRequest::parse(&bare).unwrap().unwrap();
        assert_eq!((r.client_arch, r.architecture()), (None, Some(16)));
    }

    #[test]
    fn ipxe_is_known_by_its_user_class() {
        for class in [&b"iPXE"[..], &[4, b'i', b'P', b'X', b'E'][..]] {
            let r = PxeRequest::parse(&edk2(1, 7, [0; 4], &option(77, class)))
                .unwrap()
                .unwrap();
            assert!(r.is_ipxe(), "{class:?}");
            assert!(!r.is_http());
        }
        let r = PxeRequest::parse(&edk2(1, 7, [0; 4], &option(77, b"gPXE")))
            .unwrap()
            .unwrap();
        assert!(!r.is_ipxe());
        // Any other class is not a boot client.
        let mut other = option(53, &[1]);
        other.extend(option(60, b"MSFT 5.0"));
        other.push(255);
        assert_eq!(
            PxeRequest::parse(&message([0; 4], 0, &other)).unwrap(),
            None
        );
    }

    #[test]
    fn offer_to_uefi_discover_is_a_binl_offer() {
        let r = PxeRequest::parse(&edk2(1, 7, [0; 4], &[]))
            .unwrap()
            .unwrap();
        let reply = build_reply(&r, &offer(), SERVER).unwrap();
        let m = decoded(&reply);
        assert_eq!(m.opcode(), Opcode::BootReply);
        assert_eq!(m.xid(), 0x1234_5678);
        assert_eq!(m.chaddr(), MAC);
        assert_eq!(m.htype(), HType::Eth);
        assert_eq!(m.yiaddr(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(m.ciaddr(), Ipv4Addr::UNSPECIFIED);
        // EDK2 sends its port-4011 request to siaddr.
        assert_eq!(m.siaddr(), SERVER);
        assert_eq!(m.fname(), Some(&b"boot/x64/wdsmgfw.efi\0"[..]));
        assert!(m.flags().broadcast());
        let opts = m.opts();
        assert_eq!(opts.msg_type(), Some(MessageType::Offer));
        assert_eq!(
            opts.get(OptionCode::ServerIdentifier),
            Some(&DhcpOption::ServerIdentifier(SERVER))
        );
        assert_eq!(
            opts.get(OptionCode::ClassIdentifier),
            Some(&DhcpOption::ClassIdentifier(b"PXEClient".to_vec()))
        );
        assert_eq!(
            opts.get(OptionCode::ClientMachineIdentifier),
            Some(&DhcpOption::ClientMachineIdentifier(UUID.to_vec()))
        );
        // No PXE discovery options: that would make EDK2 run its menu code.
        assert_eq!(opts.get(OptionCode::VendorExtensions), None);
        assert_eq!(opts.len(), 4);
        // Message type first, as dnsmasq and ISC dhcpd send it.
        assert_eq!(&reply[240..243], &[53, 1, 2]);
        assert!(reply.len() >= 300);
    }

    #[test]
    fn a_boot_store_is_named_in_option_252() {
        let r = PxeRequest::parse(&edk2(1, 7, [0; 4], &[]))
            .unwrap()
            .unwrap();
        let path = r"\dart\menu\x64-uefi.bcd";
        let o = BootOffer {
            boot_store: Some(path.into()),
            ..offer()
        };
        let m = decoded(&build_reply(&r, &o, SERVER).unwrap());
        match m.opts().get(OptionCode::from(252)) {
            Some(DhcpOption::Unknown(u)) => assert_eq!(u.data(), path.as_bytes()),
            other => panic!("option 252: {other:?}"),
        }
        assert_eq!(
            decoded(&build_reply(&r, &offer(), SERVER).unwrap())
                .opts()
                .get(OptionCode::from(252)),
            None
        );
        for bad in [String::new(), "a".repeat(256), "a\0b".into()] {
            let o = BootOffer {
                boot_store: Some(bad),
                ..offer()
            };
            let e = build_reply(&r, &o, SERVER).unwrap_err();
            assert!(e.to_string().contains("option 252"), "{e}");
        }
    }

    #[test]
    fn ack_to_uefi_request_on_4011_names_the_tftp_server() {
        let r = PxeRequest::parse(&edk2(3, 7, [10, 0, 0, 50], &[]))
            .unwrap()
            .unwrap();
        assert_eq!(r.kind, RequestKind::Request);
        assert_eq!(r.client_ip(), Some(Ipv4Addr::new(10, 0, 0, 50)));
        let reply = build_reply(&r, &offer(), SERVER).unwrap();
        let m = decoded(&reply);
        assert_eq!(m.opts().msg_type(), Some(MessageType::Ack));
        assert_eq!(m.siaddr(), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(m.ciaddr(), Ipv4Addr::new(10, 0, 0, 50));
        assert_eq!(m.sname(), Some(&b"10.0.0.2\0"[..]));
        assert_eq!(m.fname(), Some(&b"boot/x64/wdsmgfw.efi\0"[..]));
        assert_eq!(
            m.opts().get(OptionCode::ServerIdentifier),
            Some(&DhcpOption::ServerIdentifier(SERVER))
        );
        assert_eq!(m.opts().get(OptionCode::VendorExtensions), None);
        check_reply(&r, &offer(), SERVER, &reply);
    }

    #[test]
    fn bios_offer_says_boot_this_file() {
        let r = PxeRequest::parse(&edk2(1, 0, [0; 4], &[]))
            .unwrap()
            .unwrap();
        assert!(!r.is_uefi());
        let reply = build_reply(&r, &offer(), SERVER).unwrap();
        let m = decoded(&reply);
        assert_eq!(m.siaddr(), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(m.sname(), None);
        assert_eq!(
            m.opts().get(OptionCode::VendorExtensions),
            Some(&DhcpOption::VendorExtensions(vec![
                6, 1, 8, 10, 4, 0, b'P', b'X', b'E', 255
            ]))
        );
        check_reply(&r, &offer(), SERVER, &reply);
    }

    #[test]
    fn boot_item_is_echoed() {
        let vendor = option(43, &[71, 4, 0, 0, 0x80, 0, 255]);
        let r = PxeRequest::parse(&edk2(3, 7, [10, 0, 0, 50], &vendor))
            .unwrap()
            .unwrap();
        assert_eq!(
            r.boot_item,
            Some(BootItem {
                server_type: 0,
                layer: 0x8000
            })
        );
        let m = decoded(&build_reply(&r, &offer(), SERVER).unwrap());
        assert_eq!(
            m.opts().get(OptionCode::VendorExtensions),
            Some(&DhcpOption::VendorExtensions(vec![
                71, 4, 0, 0, 0x80, 0, 255
            ]))
        );
    }

    #[test]
    fn request_to_dhcp_server_gives_client_ip() {
        let mut o = option(53, &[3]);
        o.extend(option(50, &[10, 0, 0, 77]));
        o.extend(option(54, &[10, 0, 0, 254]));
        o.extend(option(60, b"PXEClient:Arch:00000:UNDI:002001"));
        o.push(255);
        let r = PxeRequest::parse(&message([0; 4], 0x8000, &o))
            .unwrap()
            .unwrap();
        assert_eq!(r.requested_ip, Some(Ipv4Addr::new(10, 0, 0, 77)));
        assert_eq!(r.server_id, Some(Ipv4Addr::new(10, 0, 0, 254)));
        assert_eq!(r.client_ip(), Some(Ipv4Addr::new(10, 0, 0, 77)));
        // Without option 93 the architecture comes from the class.
        assert_eq!(r.client_arch, None);
        assert_eq!(r.architecture(), Some(0));
        // ciaddr wins over option 50.
        let r = PxeRequest::parse(&message([10, 0, 0, 9], 0, &o))
            .unwrap()
            .unwrap();
        assert_eq!(r.client_ip(), Some(Ipv4Addr::new(10, 0, 0, 9)));
    }

    #[test]
    fn messages_a_proxy_never_answers_are_none() {
        // A BOOTREPLY (our own reply, seen on the wire).
        let r = PxeRequest::parse(&edk2(1, 7, [0; 4], &[]))
            .unwrap()
            .unwrap();
        let reply = build_reply(&r, &offer(), SERVER).unwrap();
        assert_eq!(PxeRequest::parse(&reply), Ok(None));
        // A Windows client.
        let mut o = option(53, &[1]);
        o.extend(option(60, b"MSFT 5.0"));
        o.push(255);
        assert_eq!(PxeRequest::parse(&message([0; 4], 0, &o)), Ok(None));
        // No class at all.
        assert_eq!(
            PxeRequest::parse(&message([0; 4], 0, &[53, 1, 1, 255])),
            Ok(None)
        );
        // DECLINE and RELEASE from a PXE client.
        for t in [4, 7] {
            assert_eq!(PxeRequest::parse(&edk2(t, 7, [0; 4], &[])), Ok(None));
        }
        // Plain BOOTP.
        assert_eq!(PxeRequest::parse(&message([0; 4], 0, &[255])), Ok(None));
        // INFORM is answered.
        let r = PxeRequest::parse(&edk2(8, 7, [10, 0, 0, 5], &[]))
            .unwrap()
            .unwrap();
        assert_eq!(r.kind, RequestKind::Inform);
    }

    #[test]
    fn malformed_messages_are_named() {
        let good = edk2(1, 7, [0; 4], &[]);
        assert_eq!(
            PxeRequest::parse(&good[..239]),
            Err(ParseError::TooShort { len: 239 })
        );
        let mut bad = good.clone();
        bad[0] = 3;
        assert_eq!(PxeRequest::parse(&bad), Err(ParseError::UnknownOp(3)));
        let mut bad = good.clone();
        bad[236] = 0;
        assert!(matches!(
            PxeRequest::parse(&bad),
            Err(ParseError::BadMagic(_))
        ));
        let mut bad = good.clone();
        bad[2] = 16;
        assert_eq!(
            PxeRequest::parse(&bad),
            Err(ParseError::NotEthernet { htype: 1, hlen: 16 })
        );
        // The end option cut off in the middle of option 60.
        let cut = &good[..good.len() - 5];
        assert!(matches!(
            PxeRequest::parse(cut),
            Err(ParseError::TruncatedOption { code: 60, .. })
        ));
        // Option 94 of 2 bytes (dhcproto asserts on it in debug builds).
        let bad = edk2(1, 7, [0; 4], &option(94, &[1, 2]));
        // The two instances of 94 are joined: 5 bytes.
        assert_eq!(
            PxeRequest::parse(&bad),
            Err(ParseError::BadOption {
                code: 94,
                len: 5,
                reason: "it must be 3 bytes"
            })
        );
        let mut o = option(53, &[3]);
        o.extend(option(50, &[10, 0, 0]));
        o.extend(option(60, b"PXEClient"));
        o.push(255);
        assert!(matches!(
            PxeRequest::parse(&message([0; 4], 0, &o)),
            Err(ParseError::BadOption {
                code: 50,
                len: 3,
                ..
            })
        ));
        for e in [
            ParseError::TooShort { len: 3 },
            ParseError::BadMagic([1, 2, 3, 4]),
        ] {
            assert!(e.to_string().contains("DHCP"), "{e}");
        }
    }

    #[test]
    fn split_and_overloaded_options_are_read() {
        // Option 60 in two instances (RFC 3396).
        let mut o = option(53, &[1]);
        o.extend(option(60, b"PXEClient:Arch:"));
        o.extend(option(93, &[0, 9]));
        o.extend(option(60, b"00009:UNDI:003016"));
        o.push(255);
        let r = PxeRequest::parse(&message([0; 4], 0, &o)).unwrap().unwrap();
        assert_eq!(r.vendor_class, "PXEClient:Arch:00009:UNDI:003016");
        assert_eq!(r.client_arch, Some(9));
        // Option 60 in the file field (option 52 = 1).
        let mut m = message([0; 4], 0, &[53, 1, 1, 52, 1, 1, 255]);
        let class = option(60, b"PXEClient:Arch:00007");
        m[108..108 + class.len()].copy_from_slice(&class);
        m[108 + class.len()] = 255;
        let r = PxeRequest::parse(&m).unwrap().unwrap();
        assert_eq!(r.vendor_class, "PXEClient:Arch:00007");
        assert_eq!(r.architecture(), Some(7));
    }

    #[test]
    fn boot_file_limits() {
        let r = PxeRequest::parse(&edk2(1, 7, [0; 4], &[]))
            .unwrap()
            .unwrap();
        let longest = BootOffer {
            boot_file: "a".repeat(127),
            ..offer()
        };
        let m = decoded(&build_reply(&r, &longest, SERVER).unwrap());
        assert_eq!(m.fname().map(<[u8]>::len), Some(128));
        for bad in ["a".repeat(128), String::new(), "a\0b".into()] {
            let o = BootOffer {
                boot_file: bad,
                ..offer()
            };
            let e = build_reply(&r, &o, SERVER).unwrap_err();
            assert!(e.to_string().contains("PXE boot file"), "{e}");
        }
        let e = build_reply(&r, &offer(), Ipv4Addr::UNSPECIFIED).unwrap_err();
        assert!(e.to_string().contains("proxy-DHCP server address"), "{e}");
        let o = BootOffer {
            tftp_server: Ipv4Addr::BROADCAST,
            ..offer()
        };
        let e = build_reply(&r, &o, SERVER).unwrap_err();
        assert!(e.to_string().contains("TFTP server"), "{e}");
    }

    #[test]
    fn seeds_of_the_fuzz_corpus_hold() {
        fuzz_one(&edk2(1, 7, [0; 4], &[]));
        fuzz_one(&edk2(
            3,
            0,
            [10, 0, 0, 5],
            &option(43, &[71, 4, 0, 0, 0, 0]),
        ));
        fuzz_one(&[]);
    }

    fn arb_request() -> impl Strategy<Value = Vec<u8>> {
        (
            prop::sample::select(vec![1u8, 3, 8]),
            any::<u16>(),
            any::<[u8; 4]>(),
            prop::collection::vec(any::<u8>(), 0..40),
            prop::collection::vec(any::<u8>(), 0..4),
        )
            .prop_map(|(t, arch, ciaddr, uuid, extra)| {
                let mut o = option(97, &uuid);
                o.extend(option(43, &extra));
                edk2(t, arch, ciaddr, &o)
            })
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..700)) {
            let _ = PxeRequest::parse(&bytes);
            fuzz_one(&bytes);
        }

        #[test]
        fn mutated_requests_never_panic(
            base in arb_request(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..12),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let mut bytes = base;
            for (i, b) in flips {
                let i = i.index(bytes.len());
                bytes[i] = b;
            }
            if truncate {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            fuzz_one(&bytes);
        }

        #[test]
        fn replies_decode_to_the_request(
            base in arb_request(),
            mac in any::<[u8; 6]>(),
            xid in any::<u32>(),
            broadcast in any::<bool>(),
            file in "[ -~]{1,127}",
            tftp in any::<[u8; 4]>().prop_filter("unicast", |a| is_unicast(Ipv4Addr::from(*a))),
        ) {
            let mut bytes = base;
            bytes[4..8].copy_from_slice(&xid.to_be_bytes());
            bytes[10..12].copy_from_slice(&(if broadcast { 0x8000u16 } else { 0 }).to_be_bytes());
            bytes[28..34].copy_from_slice(&mac);
            let request = PxeRequest::parse(&bytes).unwrap().unwrap();
            prop_assert_eq!(request.mac, mac);
            prop_assert_eq!(request.xid, xid);
            let offer = BootOffer { boot_file: file, tftp_server: Ipv4Addr::from(tftp), boot_store: None };
            let reply = build_reply(&request, &offer, SERVER).unwrap();
            check_reply(&request, &offer, SERVER, &reply);
        }
    }
}
