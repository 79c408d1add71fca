package cot

import (
	"encoding/xml"
	"strings"
	"time"
)

// GeoChat, the TAK clients' text chat: a b-t-f event whose <__chat> names
// the conversation (chatroom, its id, the sender's callsign; <chatgrp>
// lists the members' uids), whose <link relation="p-p"> is the sender and
// whose <remarks> is the text. ATAK, WinTAK and iTAK show it in the chat
// window and notify the user.
const (
	TypeChat = "b-t-f"
	// AllChatRooms is the room every TAK client has: a message to it is
	// shown to whoever receives it.
	AllChatRooms = "All Chat Rooms"
)

// ChatParty is one end of a conversation: a contact's uid and callsign.
type ChatParty struct {
	UID, Callsign string
}

// ChatMessage is a GeoChat message from one contact to another, or to
// AllChatRooms when to.UID is AllChatRooms (or empty). messageID must be
// unique per message; the event's uid is GeoChat.<from>.<to>.<messageID>
// as ATAK makes it.
func ChatMessage(from, to ChatParty, messageID, text string, now time.Time) Event {
	now = now.UTC()
	if to.UID == "" {
		to.UID = AllChatRooms
	}
	room := to.Callsign
	if to.UID == AllChatRooms || room == "" {
		room = to.UID
	}
	attr := func(name, value string) xml.Attr { return xml.Attr{Name: xml.Name{Local: name}, Value: value} }
	var grp strings.Builder
	_ = xml.NewEncoder(&grp).Encode(Element{XMLName: xml.Name{Local: "chatgrp"},
		Attrs: []xml.Attr{attr("uid0", from.UID), attr("uid1", to.UID), attr("id", to.UID)}})
	return Event{
		UID: "GeoChat." + from.UID + "." + to.UID + "." + messageID, Type: TypeChat, How: HowGIGO,
		Time: now, Start: now, Stale: now.Add(24 * time.Hour),
		Point: Point{HAE: Unknown, CE: Unknown, LE: Unknown},
		Detail: Detail{
			Remarks: &Remarks{Source: from.UID, To: to.UID, Time: now.Format(TimeLayout), Text: text},
			Links:   []Link{{UID: from.UID, Type: "a-f-G-E-S", Relation: "p-p"}},
			Other: []Element{{XMLName: xml.Name{Local: "__chat"}, Attrs: []xml.Attr{
				attr("parent", "RootContactGroup"), attr("groupOwner", "false"), attr("messageId", messageID),
				attr("chatroom", room), attr("id", to.UID), attr("senderCallsign", from.Callsign)},
				Inner: grp.String()}},
		},
	}
}

// ChatSender returns the sender of a GeoChat message (the <chatgrp>'s
// uid0, else the p-p link, and <__chat>'s senderCallsign); ok is false if e
// is not one.
func ChatSender(e Event) (p ChatParty, ok bool) {
	if e.Type != TypeChat {
		return ChatParty{}, false
	}
	for _, el := range e.Detail.Other {
		if el.XMLName.Local != "__chat" {
			continue
		}
		for _, a := range el.Attrs {
			if a.Name.Local == "senderCallsign" {
				p.Callsign = a.Value
			}
		}
		var g struct {
			Grp struct {
				UID0 string `xml:"uid0,attr"`
			} `xml:"chatgrp"`
		}
		if xml.Unmarshal([]byte("<__chat>"+el.Inner+"</__chat>"), &g) == nil {
			p.UID = g.Grp.UID0
		}
	}
	for _, l := range e.Detail.Links {
		if p.UID == "" && l.Relation == "p-p" {
			p.UID = l.UID
		}
	}
	return p, p.UID != ""
}
