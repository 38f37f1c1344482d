/** Value pools for the seed emitter's random messages (the seed read these from a data.json). */
export const LEGACY_NAMES = [
  'Jack Reacher',
  'Ethan Hunt',
  'James Bond',
  'Jason Bourne',
  'Lara Croft',
  'Sherlock Holmes',
  'Hercule Poirot',
  'Indiana Jones',
  'Ellen Ripley',
  'Sarah Connor',
  'John Wick',
  'Natasha Romanoff',
] as const;

export const LEGACY_CITIES = [
  'Bengaluru',
  'Mumbai',
  'Delhi',
  'Chennai',
  'Kolkata',
  'Hyderabad',
  'Pune',
  'Ahmedabad',
  'Jaipur',
  'Lucknow',
  'Kochi',
  'Chandigarh',
  'Indore',
  'Bhopal',
  'Nagpur',
  'Surat',
] as const;
