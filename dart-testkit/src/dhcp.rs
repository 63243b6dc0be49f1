//! DHCP messages as PXE clients send them.

use std::net::Ipv4Addr;

/// A PXE client's DHCP message of type `kind` from `mac`, architecture
/// `arch` (option 93 and the vendor class), claiming `ciaddr`.
pub fn pxe_message(
    kind: dhcproto::v4::MessageType,
    mac: [u8; 6],
    arch: u16,
    ciaddr: Ipv4Addr,
) -> Vec<u8> {
    use dhcproto::v4::{DhcpOption, Message, Opcode};
    use dhcproto::{Encodable, Encoder};
    let mut msg = Message::default();
    msg.set_opcode(Opcode::BootRequest)
        .set_xid(0x1234_5678)
        .set_chaddr(&mac)
        .set_ciaddr(ciaddr);
    let opts = msg.opts_mut();
    opts.insert(DhcpOption::MessageType(kind));
    opts.insert(DhcpOption::ClassIdentifier(
        format!("PXEClient:Arch:{arch:05}:UNDI:003016").into_bytes(),
    ));
    opts.insert(DhcpOption::ClientSystemArchitecture(arch.into()));
    let mut out = Vec::new();
    msg.encode(&mut Encoder::new(&mut out)).unwrap();
    out
}
