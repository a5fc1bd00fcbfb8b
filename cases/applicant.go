package cases

// Applicant fields by convention
//
// The list, the search and the portal know the applicant (Antragsteller/in) as the
// case's Applicant; the form collects the same data as values. FillApplicant copies
// them across, so a caseworker types a name once. The forms use these names:
//
//	familienname, vornamen, geburtsname  → Applicant.FamilyName, GivenNames, BirthName
//	firmenname                           → Applicant.Organisation
//	the first field of type address      → Applicant.Address
//
// A form without one of these fields leaves that part of Applicant as it is (set it
// through the case attributes "applicant.*").

// FillApplicant sets c.Applicant from c's form values where the form has the
// conventional field; an empty value clears the attribute.
func (s *Schema) FillApplicant(c *Case) {
	a := &c.Applicant
	for field, dst := range map[string]*string{
		"familienname": &a.FamilyName,
		"vornamen":     &a.GivenNames,
		"geburtsname":  &a.BirthName,
		"firmenname":   &a.Organisation,
	} {
		if _, ok := s.Field(field); ok {
			*dst = c.Values[field]
		}
	}
	for _, f := range s.order {
		if f.Type != TypeAddress {
			continue
		}
		v := c.Values
		a.Address = Address{
			Street: v[f.Name+".strasse"], HouseNumber: v[f.Name+".hausnummer"],
			Addition: v[f.Name+".zusatz"], Postcode: v[f.Name+".plz"], City: v[f.Name+".ort"],
			Country: v[f.Name+".staat"],
		}
		break
	}
}
